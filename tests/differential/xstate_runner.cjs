#!/usr/bin/env node
// Runs machine configs through the real XState v5, for tests/differential/test_xstate.py.
//
// stdin:  {"cases": [{"config": <XState JSON config>, "events": ["A", {"type": "B"}, ...]}, ...]}
// stdout: {"results": [{"steps": [{"value": ..., "status": ..., "output": ...}, ...]} | {"error": "..."}, ...]}
//
// steps[0] is the initial snapshot (initialTransition); steps[i] is the snapshot after events[i - 1].
// Once a snapshot's status is not "active" the remaining events are not sent (orderflow ignores
// events on a done machine); each of them is recorded as {"skipped": true, ...the last snapshot}.
//
// With --serve the script instead reads one case per line and answers each with one line
// (the same result object), until stdin closes: one node process for a whole test session.
//
// Guards arrive as data ({"type": "stateIn", "state": ...}, {"type": "and", "guards": [...]},
// {"type": "or", ...}, {"type": "not", "guards": [g]}); XState's JSON cannot carry them, so they
// are rebuilt with xstate's stateIn() / and() / or() / not() helpers before createMachine.
// Module resolution: NODE_PATH (or ORDERFLOW_TEST_XSTATE_DIR) must contain the xstate package.
'use strict';

const path = require('path');

function loadXState() {
  const dir = process.env.ORDERFLOW_TEST_XSTATE_DIR;
  if (dir) {
    return require(path.join(path.resolve(dir), 'xstate'));
  }
  return require('xstate');
}

const { createMachine, initialTransition, transition, stateIn, and, or, not } = loadXState();

function translateGuard(guard) {
  if (guard === null || typeof guard !== 'object' || Array.isArray(guard)) {
    return guard;
  }
  switch (guard.type) {
    case 'stateIn':
    case 'xstate.stateIn':
      return stateIn(guard.state !== undefined ? guard.state : guard.stateValue);
    case 'and':
    case 'xstate.and':
      return and(guard.guards.map(translateGuard));
    case 'or':
    case 'xstate.or':
      return or(guard.guards.map(translateGuard));
    case 'not':
    case 'xstate.not':
      return not(translateGuard(guard.guards ? guard.guards[0] : guard.guard));
    default:
      return guard;
  }
}

function translateTransitions(transitions) {
  if (transitions === undefined || transitions === null) {
    return transitions;
  }
  const list = Array.isArray(transitions) ? transitions : [transitions];
  const translated = list.map((t) => {
    if (t === null || typeof t !== 'object' || t.guard === undefined) {
      return t;
    }
    return { ...t, guard: translateGuard(t.guard) };
  });
  return Array.isArray(transitions) ? translated : translated[0];
}

function translateState(state) {
  const result = { ...state };
  if (state.on) {
    result.on = {};
    for (const [descriptor, transitions] of Object.entries(state.on)) {
      result.on[descriptor] = translateTransitions(transitions);
    }
  }
  if (state.always !== undefined) {
    result.always = translateTransitions(state.always);
  }
  if (state.onDone !== undefined) {
    result.onDone = translateTransitions(state.onDone);
  }
  if (state.states) {
    result.states = {};
    for (const [key, child] of Object.entries(state.states)) {
      result.states[key] = translateState(child);
    }
  }
  return result;
}

function view(snapshot) {
  return {
    value: snapshot.value,
    status: snapshot.status,
    output: snapshot.output === undefined ? null : snapshot.output,
  };
}

function runCase(testCase) {
  const machine = createMachine(translateState(testCase.config));
  let [snapshot] = initialTransition(machine);
  const steps = [view(snapshot)];
  for (const event of testCase.events) {
    if (snapshot.status !== 'active') {
      steps.push({ ...view(snapshot), skipped: true });
      continue;
    }
    [snapshot] = transition(machine, snapshot, typeof event === 'string' ? { type: event } : event);
    steps.push(view(snapshot));
  }
  return { steps };
}

function safeRun(testCase) {
  try {
    return runCase(testCase);
  } catch (err) {
    return { error: err && err.message ? err.message : String(err) };
  }
}

function serve() {
  const readline = require('readline');
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on('line', (line) => {
    if (line.trim()) {
      process.stdout.write(JSON.stringify(safeRun(JSON.parse(line))) + '\n');
    }
  });
}

function main() {
  if (process.argv.includes('--serve')) {
    serve();
    return;
  }
  const chunks = [];
  process.stdin.on('data', (chunk) => chunks.push(chunk));
  process.stdin.on('end', () => {
    const { cases } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const results = cases.map(safeRun);
    process.stdout.write(JSON.stringify({ results }));
  });
}

main();
