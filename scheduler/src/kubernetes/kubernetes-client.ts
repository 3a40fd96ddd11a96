/**
 * The Kubernetes client for the whole project: `@kubernetes/client-node`, loaded after the Node 20
 * compatibility fill-ins it needs. Import Kubernetes client values from here, not from the package.
 */
import './node20-compat.ts';

export * from '@kubernetes/client-node';
