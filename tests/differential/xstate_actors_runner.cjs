#!/usr/bin/env node
// Runs parents with child actors through the real XState v5, for tests/differential/test_xstate_actors.py.
//
// One case per stdin line, one result per stdout line (a serving process for a whole test module):
//
//   {"machines": [[name, config], ...],   // children first: each machine may invoke/spawn the earlier ones
//    "events": [{"to": "" | "child/grandchild", "event": {...}}, ...],
//    "restoreAfter": k}                   // optional: after k events, persist, restore, go on
//
// The result: {"steps": [view, ...]} (the initial view, then one per event) or {"error": "..."}.
// A view is {value, status, context, children: {id: view}} of the last machine (the root); the
// children of a root that is not active are left out (XState keeps stopped ones there).
//
// Actions arrive as orderflow writes them in JSON ({"type": "sendTo", "params": {...}}) and are
// rebuilt with XState's action creators.  Two named actions exist on both sides: "trail" appends
// "<event type>" to context.trail, and "keepOutput" stores event.output in context.output.
'use strict';

const path = require('path');

function loadXState() {
  const dir = process.env.ORDERFLOW_TEST_XSTATE_DIR;
  return require(dir ? path.join(path.resolve(dir), 'xstate') : 'xstate');
}

const X = loadXState();

function translateAction(action) {
  if (typeof action === 'string' || action === null || typeof action !== 'object') {
    return action;
  }
  const p = action.params || {};
  const event = (e) => (typeof e === 'string' ? { type: e } : e);
  switch (action.type) {
    case 'assign':
      return X.assign(p);
    case 'raise':
      return X.raise(event(p.event));
    case 'sendTo':
      return X.sendTo(p.systemId !== undefined ? ({ system }) => system.get(p.systemId) : p.to, event(p.event));
    case 'sendParent':
      return X.sendParent(event(p.event));
    case 'forwardTo':
      return X.forwardTo(p.systemId !== undefined ? ({ system }) => system.get(p.systemId) : p.to);
    case 'spawnChild':
      return X.spawnChild(p.src, { id: p.id, input: p.input, systemId: p.systemId });
    case 'stopChild':
      return X.stopChild(p.id);
    default:
      return action;
  }
}

function translateActions(actions) {
  if (actions === undefined) return undefined;
  return Array.isArray(actions) ? actions.map(translateAction) : translateAction(actions);
}

// Guards as data (stateIn, and, or, not), rebuilt with XState's guard helpers.
function translateGuard(guard) {
  if (guard === null || typeof guard !== 'object' || Array.isArray(guard)) return guard;
  switch (guard.type) {
    case 'stateIn':
      return X.stateIn(guard.state !== undefined ? guard.state : guard.stateValue);
    case 'and':
      return X.and(guard.guards.map(translateGuard));
    case 'or':
      return X.or(guard.guards.map(translateGuard));
    case 'not':
      return X.not(translateGuard(guard.guards ? guard.guards[0] : guard.guard));
    default:
      return guard;
  }
}

function translateTransitions(transitions) {
  if (transitions === undefined || transitions === null) return transitions;
  const list = Array.isArray(transitions) ? transitions : [transitions];
  const translated = list.map((t) => {
    if (t === null || typeof t !== 'object') return t;
    const out = { ...t };
    if (t.actions !== undefined) out.actions = translateActions(t.actions);
    if (t.guard !== undefined) out.guard = translateGuard(t.guard);
    return out;
  });
  return Array.isArray(transitions) ? translated : translated[0];
}

function translateState(state) {
  const result = { ...state };
  for (const key of ['entry', 'exit']) {
    if (state[key] !== undefined) result[key] = translateActions(state[key]);
  }
  if (state.on) {
    result.on = {};
    for (const [descriptor, transitions] of Object.entries(state.on)) {
      result.on[descriptor] = translateTransitions(transitions);
    }
  }
  for (const key of ['always', 'onDone']) {
    if (state[key] !== undefined) result[key] = translateTransitions(state[key]);
  }
  if (state.invoke !== undefined) {
    const list = Array.isArray(state.invoke) ? state.invoke : [state.invoke];
    const translated = list.map((inv) => {
      const out = { ...inv };
      for (const key of ['onDone', 'onError', 'onSnapshot']) {
        if (inv[key] !== undefined) out[key] = translateTransitions(inv[key]);
      }
      return out;
    });
    result.invoke = Array.isArray(state.invoke) ? translated : translated[0];
  }
  if (state.states) {
    result.states = {};
    for (const [key, child] of Object.entries(state.states)) {
      result.states[key] = translateState(child);
    }
  }
  return result;
}

const sharedActions = {
  trail: X.assign(({ context, event }) => ({ trail: [...(context.trail || []), event.type] })),
  keepOutput: X.assign(({ event }) => ({ output: event.output === undefined ? null : event.output })),
};

function view(snapshot) {
  const result = {
    value: snapshot.value,
    status: snapshot.status,
    context: snapshot.context === undefined ? null : snapshot.context,
  };
  if (snapshot.status === 'active') {
    result.children = {};
    for (const [id, child] of Object.entries(snapshot.children || {})) {
      if (child) result.children[id] = view(child.getSnapshot());
    }
  }
  return result;
}

function find(actor, to) {
  let current = actor;
  if (!to) return current;
  for (const id of to.split('/')) {
    current = current.getSnapshot().children[id];
    if (!current) return undefined;
  }
  return current;
}

function runCase(testCase) {
  const actors = {};
  let machine;
  for (const [name, config] of testCase.machines) {
    machine = X.setup({ actors: { ...actors }, actions: sharedActions }).createMachine(translateState(config));
    actors[name] = machine;
  }
  const errors = [];
  let actor = X.createActor(machine);
  actor.subscribe({ error: (err) => errors.push(err) });
  actor.start();
  const steps = [view(actor.getSnapshot())];
  testCase.events.forEach((item, index) => {
    if (actor.getSnapshot().status === 'active') {
      const target = find(actor, item.to);
      if (target) target.send(item.event);
    }
    steps.push(view(actor.getSnapshot()));
    if (testCase.restoreAfter === index + 1 && actor.getSnapshot().status === 'active') {
      const persisted = JSON.parse(JSON.stringify(actor.getPersistedSnapshot()));
      actor.stop();
      actor = X.createActor(machine, { snapshot: persisted });
      actor.subscribe({ error: (err) => errors.push(err) });
      actor.start();
    }
  });
  return { steps };
}

function safeRun(testCase) {
  try {
    return runCase(testCase);
  } catch (err) {
    return { error: err && err.message ? err.message : String(err) };
  }
}

const readline = require('readline');
const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on('line', (line) => {
  if (line.trim()) {
    process.stdout.write(JSON.stringify(safeRun(JSON.parse(line))) + '\n');
  }
});
