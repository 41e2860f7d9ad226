export * from './mode';
export * from './rng';
export * from './corpus';
export * from './tokenizer';
export * from './model';
export * from './sample';
