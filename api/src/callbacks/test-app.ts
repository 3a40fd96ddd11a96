/**
 * The real app (buildApp) on a real Redis and a temporary DATA_DIR, not yet ready and without the
 * user-facing plugins, so a test can register the plugin under test first. Tests only.
 */
import { startAppFixture, type AppFixture } from '../app-fixture.ts';

export type UnreadyApp = AppFixture;

export function buildUnreadyApp(env: Record<string, string> = {}): Promise<UnreadyApp> {
  return startAppFixture(env, { ready: false, userFacingPlugins: false, checkTarget: false });
}
