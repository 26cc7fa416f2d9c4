// Launches Debian's Chromium (or $CHROMIUM_BIN) headless through playwright-core, with a fresh
// profile and the flags that keep it off the network (the test machine has no internet; without
// them Chromium keeps trying to reach Google services). Everything missing is an error, with the
// command that fixes it: the browser test fails, it never skips.
import { constants } from "node:fs";
import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** launchChromium resolves with { context, version, close() }; close() also deletes the profile. */
export async function launchChromium({ viewport = { width: 1280, height: 900 } } = {}) {
  const executablePath = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
  try {
    await access(executablePath, constants.X_OK);
  } catch {
    throw new Error(
      `Chromium not found at ${executablePath}: install it with \`apt-get install -y chromium\` ` +
        "(or point CHROMIUM_BIN at a Chromium binary)",
    );
  }
  let chromium;
  try {
    ({ chromium } = await import("playwright-core"));
  } catch (err) {
    throw new Error(`playwright-core is not installed: run \`npm ci\` in client/ (${err.message})`);
  }
  const userDataDir = await mkdtemp(join(tmpdir(), "realtime-chromium-"));
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport,
      timeout: 30_000,
    });
  } catch (err) {
    await rm(userDataDir, { recursive: true, force: true });
    throw new Error(`cannot launch ${executablePath}: ${err.message}`);
  }
  return {
    context,
    version: context.browser()?.version() ?? "unknown",
    close: async () => {
      await context.close().catch(() => {});
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}
