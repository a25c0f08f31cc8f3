// The scenario registry: add a module under bench/scenarios/ and list it here.
// The default run (`all`) is every scenario not marked `optional`, in this order.
import type { ScenarioModule } from '../lib/types.js';
import { flipUnderLoad } from './flip.js';
import { large64k } from './large-64k.js';
import { routeScale } from './route-scale.js';
import { routes10kScenario } from './routes-10k.js';
import { smallGet } from './small-get.js';
import { uploads1m } from './uploads-1m.js';
import { websocket } from './websocket.js';
import { workers } from './workers.js';
import { writeServed } from './write-served.js';

export const SCENARIOS: readonly ScenarioModule[] = [
  smallGet,
  large64k,
  routes10kScenario,
  uploads1m,
  routeScale,
  flipUnderLoad,
  writeServed,
  workers,
  websocket,
];

export function findScenario(name: string): ScenarioModule | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
