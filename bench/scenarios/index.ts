// The scenario registry: add a module under bench/scenarios/ and list it here.
import type { ScenarioModule } from '../lib/types.js';
import { large64k } from './large-64k.js';
import { routes10kScenario } from './routes-10k.js';
import { smallGet } from './small-get.js';

export const SCENARIOS: readonly ScenarioModule[] = [smallGet, large64k, routes10kScenario];

export function findScenario(name: string): ScenarioModule | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
