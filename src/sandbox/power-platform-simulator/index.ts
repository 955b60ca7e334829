/** The simulated Power Platform API: start it, seed it, and refer to its well-known environments. */
export {
  startPowerPlatformSimulator,
  type OverrideMatch,
  type PowerPlatformSimulator,
  type PowerPlatformSimulatorOptions,
  type RecordedCall,
  type RecordedGrant,
  type SimOperation,
} from './simulator';
export {
  ADMIN_ROLE_BEHAVIORS,
  defaultSeed,
  guidFrom,
  SEED_TENANT_ID,
  seedMany,
  WELL_KNOWN,
  type AdminRoleBehavior,
  type SimulatedEnvironment,
  type WellKnownName,
} from './seed';
export { parseSimBehavior, type SimBehavior } from './behavior';
export {
  bearerToken,
  decodeJwtClaims,
  TENANT_ADMIN_ROLE_IDS,
  type Authenticate,
  type CallerClaims,
} from './caller';
export { NOT_TENANT_ADMIN_MESSAGE, SUPPORTED_API_VERSIONS, systemUserIdFor } from './responses';
