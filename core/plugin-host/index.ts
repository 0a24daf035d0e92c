/** The plugin host: catalogs, loading and lifecycle, contributions, features, build profiles and bundles. */
export * from './catalog.js';
export * from './contributions.js';
export * from './status.js';
export * from './loader.js';
export * from './order.js';
export * from './host.js';
export * from './features.js';
export * from './support.js';
export * from './profile.js';
export * from './bundle.js';
export { closeMatches, didYouMean } from '../config/suggest.js';
export { checkSchema, strictSchema, type SchemaResult } from './validate.js';
