export * from './mode';
export * from './rng';
