"""PyTorch reference for `npm run bench`: the same GPT as lib/model/model.ts (pre-LayerNorm
blocks, causal multi-head attention, GELU (tanh), tied embeddings, AdamW), trained
for a fixed number of steps on random tokens. Prints one JSON line.

Usage: python3 torch_gpt.py CONFIG_JSON STEPS THREADS [--logprob]
--logprob also times the log-prob pass as bench/engine.ts does (2 x batch rows, a few pads at the
end of each, log-softmax at the next tokens, masked): forward alone (no_grad) and forward + backward.
Run with OMP_WAIT_POLICY=PASSIVE (bench/train.ts sets it): otherwise OpenMP threads
spin against OpenBLAS's and the step is ~2.4x slower and noisy.
"""
import json
import math
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, c, h):
        super().__init__()
        self.h = h
        self.ln1, self.ln2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.qkv, self.proj = nn.Linear(c, 3 * c), nn.Linear(c, c)
        self.fc1, self.fc2 = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)

    def forward(self, x, mask):
        b, t, c = x.shape  # mask: [t, t] causal, or [b, 1, t, t] causal + padding
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        heads = lambda z: z.view(b, t, self.h, c // self.h).transpose(1, 2)  # [B,H,T,D]
        q, k, v = heads(q), heads(k), heads(v)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(c // self.h) + (mask[:t, :t] if mask.dim() == 2 else mask)
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(b, t, c)
        x = x + self.proj(y)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        v, t, c = cfg["vocab"], cfg["context"], cfg["width"]
        self.wte, self.wpe = nn.Embedding(v, c), nn.Embedding(t, c)
        self.blocks = nn.ModuleList(Block(c, cfg["heads"]) for _ in range(cfg["layers"]))
        self.lnf = nn.LayerNorm(c)
        mask = torch.full((t, t), -1e9).triu(1)
        self.register_buffer("mask", mask)

    def forward(self, idx, pad_mask=None):
        t = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(t))
        mask = self.mask if pad_mask is None else self.mask[:t, :t] + (1 - pad_mask[:, None, None, :]) * -1e9
        for blk in self.blocks:
            x = blk(x, mask)
        return self.lnf(x) @ self.wte.weight.T  # tied LM head


def sequence_log_probs(model, tokens, mask):
    """[B, T] log p(token_t | tokens_<t), 0 at t = 0 and at pads (lib/model/logprobs.ts's completionLogProbs)."""
    logp = model(tokens, mask).log_softmax(-1)[:, :-1].gather(2, tokens[:, 1:, None]).squeeze(2)
    return torch.cat([torch.zeros_like(logp[:, :1]), logp], 1) * mask


def time_it(f, reps, tokens, warmup=2):
    """Median wall ms, CPU ms per call (all threads) and tokens/s of `reps` calls after `warmup`."""
    for _ in range(warmup):  # allocator, OpenBLAS buffers
        f()
    times = []
    cpu0 = time.process_time()
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    cpu_ms = (time.process_time() - cpu0) * 1000 / reps
    ms = sorted(times)[len(times) // 2] * 1000
    return {"ms": ms, "cpuMs": cpu_ms, "tokensPerSecond": tokens / (ms / 1000)}


def time_log_probs(model, cfg, reps, gen):
    rows, t = 2 * cfg["batch"], cfg["context"]
    tokens = torch.randint(0, cfg["vocab"], (rows, t), generator=gen)
    mask = torch.ones(rows, t)
    for b in range(rows):
        mask[b, t - b % 8:] = 0
    tokens = tokens * mask.long()  # pad id 0
    weights = torch.randn(rows, t, generator=gen)

    def forward():
        with torch.no_grad():
            sequence_log_probs(model, tokens, mask).sum().item()

    def backward():
        model.zero_grad(set_to_none=True)
        loss = (sequence_log_probs(model, tokens, mask) * weights).sum()
        loss.backward()
        loss.item()

    return {"forward": time_it(forward, reps, rows * t), "backward": time_it(backward, reps, rows * t)}


def batch(cfg, gen):
    ids = torch.randint(0, cfg["vocab"], (cfg["batch"], cfg["context"] + 1), generator=gen)
    return ids[:, :-1], ids[:, 1:]


def matmul_gflops(n=1024, reps=5):
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9


def main():
    cfg, steps, threads = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    logprob = "--logprob" in sys.argv[4:]
    torch.set_num_threads(threads)
    torch.manual_seed(1337)
    gen = torch.Generator().manual_seed(0)
    model = GPT(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)

    def step():
        x, y = batch(cfg, gen)
        loss = F.cross_entropy(model(x).view(-1, cfg["vocab"]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    t = time_it(step, steps, cfg["batch"] * cfg["context"], warmup=3)
    out = {
        "engine": f"pytorch {torch.__version__}",
        "threads": torch.get_num_threads(),
        "stepMs": t["ms"],
        "cpuMsPerStep": t["cpuMs"],
        "tokensPerSecond": t["tokensPerSecond"],
        "peakRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "matmulGflops": matmul_gflops(),
    }
    if logprob:
        out["logprob"] = time_log_probs(model, cfg, steps, gen)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
