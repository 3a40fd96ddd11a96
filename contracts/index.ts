export * from './gadgets.ts';
export * from './events.ts';
export * from './node-job.ts';
export * from './trace-status.ts';
export * from './trace-spec.ts';
export * from './profile.ts';
export * from './duration.ts';
export * from './gadget-tables.ts';
