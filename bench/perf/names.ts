/** The targets (bench/servers/*.ts, one process each) and the load scenarios. */

export const TARGETS = ['floor-fetch', 'floor-undici', 'usual', 'ours'] as const;
export type TargetName = (typeof TARGETS)[number];

export const FLOORS = ['floor-fetch', 'floor-undici'] as const satisfies readonly TargetName[];
export const isFloor = (t: TargetName) => (FLOORS as readonly TargetName[]).includes(t);

export const SCRIPTS: Record<TargetName, string> = {
  'floor-fetch': 'floor.ts',
  'floor-undici': 'floor-undici.ts',
  usual: 'usual.ts',
  ours: 'ours.ts',
};

export const SCENARIOS = ['invite-hs256', 'invite-rs256', 'tools-list'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** Results written before the undici floor existed call the fetch floor "floor". */
export const normaliseTarget = (t: string): TargetName => (t === 'floor' ? 'floor-fetch' : (t as TargetName));
