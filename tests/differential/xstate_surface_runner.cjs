#!/usr/bin/env node
// Runs cases through the real XState v5 for tests/differential/test_xstate_surface.py: the parts of
// XState's surface beyond plain charts (machine.provide, context as a function of input,
// history: true, snapshot.getMeta()).
//
// One case per stdin line, one result per stdout line:
//   {"config": <XState JSON config>, "events": ["A", ...], "input": <any>,
//    "setup": {"guards": {"name": "<library guard>"}, "actions": {...}, "contexts": {...}},
//    "provide": {"guards": {...}, "actions": {...}}}
//   -> {"steps": [{"value", "status", "context", "meta"}, ...]} | {"error": "..."}
// Implementations are named from the small LIBRARY below, mirrored in the Python test, since
// functions cannot travel as JSON.  A config whose "context" is a string names a context function.
'use strict';

const path = require('path');

function loadXState() {
  const dir = process.env.ORDERFLOW_TEST_XSTATE_DIR;
  return dir ? require(path.join(path.resolve(dir), 'xstate')) : require('xstate');
}

const { setup, assign, initialTransition, transition, stateIn, and, or, not } = loadXState();

// Guard combinators arrive as data; XState wants its helpers (as in xstate_runner.cjs).
function guardOf(guard) {
  if (guard === null || typeof guard !== 'object' || Array.isArray(guard)) {
    return guard;
  }
  const parts = guard.guards || (guard.guard !== undefined ? [guard.guard] : []);
  switch (guard.type) {
    case 'stateIn':
      return stateIn(guard.state !== undefined ? guard.state : guard.stateValue);
    case 'and':
      return and(parts.map(guardOf));
    case 'or':
      return or(parts.map(guardOf));
    case 'not':
      return not(guardOf(parts[0]));
    default:
      return guard;
  }
}

function transitionsOf(transitions) {
  if (transitions === undefined || transitions === null) {
    return transitions;
  }
  const one = (t) => (t && typeof t === 'object' && t.guard !== undefined ? { ...t, guard: guardOf(t.guard) } : t);
  return Array.isArray(transitions) ? transitions.map(one) : one(transitions);
}

function stateOf(config) {
  const out = { ...config };
  for (const key of ['always', 'onDone']) {
    if (config[key] !== undefined) {
      out[key] = transitionsOf(config[key]);
    }
  }
  for (const key of ['on', 'after']) {
    if (config[key]) {
      out[key] = Object.fromEntries(Object.entries(config[key]).map(([k, t]) => [k, transitionsOf(t)]));
    }
  }
  if (config.states) {
    out.states = Object.fromEntries(Object.entries(config.states).map(([k, c]) => [k, stateOf(c)]));
  }
  return out;
}

const LIBRARY = {
  guards: {
    positive: ({ context }) => context.count > 0,
    even: ({ context }) => context.count % 2 === 0,
    never: () => false,
  },
  actions: {
    increment: assign({ count: ({ context }) => context.count + 1 }),
    double: assign({ count: ({ context }) => context.count * 2 }),
    remember: assign({ seen: ({ context, event }) => [...context.seen, event.type] }),
    recordInput: assign({ input: ({ event }) => (event.input === undefined ? null : event.input) }),
  },
  contexts: {
    fromInput: ({ input }) => ({
      count: input && typeof input.start === 'number' ? input.start : 0,
      seen: [],
      input: null,
    }),
    fromNothing: () => ({ count: 0, seen: [], input: null }),
  },
};

function pick(kind, table) {
  const out = {};
  for (const [name, implementation] of Object.entries(table || {})) {
    out[name] = LIBRARY[kind][implementation];
    if (out[name] === undefined) {
      throw new Error(`the runner's library has no ${kind} '${implementation}'`);
    }
  }
  return out;
}

function view(snapshot) {
  return {
    value: snapshot.value,
    status: snapshot.status,
    context: snapshot.context,
    meta: snapshot.getMeta(),
  };
}

function runCase(testCase) {
  const given = testCase.setup || {};
  const config = stateOf(testCase.config);
  if (typeof config.context === 'string') {
    config.context = pick('contexts', { it: (given.contexts || {})[config.context] }).it;
  }
  let machine = setup({ guards: pick('guards', given.guards), actions: pick('actions', given.actions) })
    .createMachine(config);
  if (testCase.provide) {
    machine = machine.provide({
      guards: pick('guards', testCase.provide.guards),
      actions: pick('actions', testCase.provide.actions),
    });
  }
  let [snapshot] = initialTransition(machine, testCase.input);
  const steps = [view(snapshot)];
  for (const event of testCase.events) {
    if (snapshot.status !== 'active') {
      break;
    }
    [snapshot] = transition(machine, snapshot, typeof event === 'string' ? { type: event } : event);
    steps.push(view(snapshot));
  }
  return { steps };
}

const lines = require('readline').createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on('line', (line) => {
  if (!line.trim()) {
    return;
  }
  let result;
  try {
    result = runCase(JSON.parse(line));
  } catch (err) {
    result = { error: err && err.message ? err.message : String(err) };
  }
  process.stdout.write(JSON.stringify(result) + '\n');
});
