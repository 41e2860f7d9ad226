// Identifies the CPU the addon is compiled for (-march=native): architecture, model
// and instruction-set flags. Plain JS so scripts/build-native.sh can run it with node.
const fs = require('fs');
const os = require('os');

function cpuId() {
  let flags = '';
  try {
    const info = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const line = info.split('\n').find((l) => /^(flags|Features)\s*:/.test(l));
    flags = line ? line.split(':')[1].trim().split(/\s+/).sort().join(' ') : '';
  } catch {
    flags = '';
  }
  return `${os.arch()} ${os.cpus()[0] ? os.cpus()[0].model : ''} ${flags}`;
}

module.exports = { cpuId };
