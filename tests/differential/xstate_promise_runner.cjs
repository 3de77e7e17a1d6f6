#!/usr/bin/env node
// Runs a parent that invokes one promise actor through the real XState v5, for
// tests/differential/test_xstate_promise.py: what a promise that resolves or rejects leaves behind.
//
// One case per stdin line, one result per stdout line:
//   {"reject": bool, "output": <JSON>, "onDone": bool, "onError": bool}
// The parent: idle --GO--> working (invokes "job", src "work", input {"n": 3}; onDone/onError
// to "after" when asked) --BACK--> idle.  After GO the promise settles; the result is
//   {"value", "status", "children": {id: status}, "persisted": {id: persisted snapshot as JSON},
//    "afterBack": [ids]}
// A rejecting promise rejects with {"type": "RuntimeError", "message": "refused"}: what orderflow's
// runtime makes of the exception its function raises, so the persisted error compares as data.
// With "nested": true, "job" is a child machine that invokes the promise as "grand" with no onError
// of its own (so the child fails), and onDone/onError are the parent's, for the child.  The result
// also has the parent's "error" and its persisted snapshot's "status" and "error".
'use strict';

const path = require('path');

function loadXState() {
  const dir = process.env.ORDERFLOW_TEST_XSTATE_DIR;
  return dir ? require(path.join(path.resolve(dir), 'xstate')) : require('xstate');
}

const X = loadXState();

async function runCase(testCase) {
  const work = X.fromPromise(async () => {
    if (testCase.reject) throw { type: 'RuntimeError', message: 'refused' };
    return testCase.output;
  });
  const kid = X.setup({ actors: { work } }).createMachine({
    id: 'kid',
    initial: 'a',
    states: { a: { invoke: { id: 'grand', src: 'work', input: { n: 3 } } } },
  });
  const invoke = { id: 'job', src: testCase.nested ? 'kid' : 'work', input: { n: 3 } };
  if (testCase.onDone) invoke.onDone = 'after';
  if (testCase.onError) invoke.onError = 'after';
  const machine = X.setup({ actors: { work, kid } }).createMachine({
    id: 'parent',
    initial: 'idle',
    states: { idle: { on: { GO: 'working' } }, working: { invoke, on: { BACK: 'idle' } }, after: {} },
  });
  const actor = X.createActor(machine);
  actor.subscribe({ error: () => {} });
  actor.start();
  actor.send({ type: 'GO' });
  await new Promise((resolve) => setTimeout(resolve, 5));
  const snapshot = actor.getSnapshot();
  const children = {};
  for (const [id, child] of Object.entries(snapshot.children)) children[id] = child.getSnapshot().status;
  const whole = JSON.parse(JSON.stringify(actor.getPersistedSnapshot()));
  const persisted = {};
  for (const [id, child] of Object.entries(whole.children || {})) {
    persisted[id] = testCase.nested ? child.snapshot.status : child.snapshot;
  }
  let afterBack = null;
  if (snapshot.status === 'active') {
    actor.send({ type: 'BACK' });
    afterBack = Object.keys(actor.getSnapshot().children);
  }
  return {
    value: snapshot.value,
    status: snapshot.status,
    error: snapshot.error === undefined ? null : snapshot.error,
    children,
    persisted,
    persistedStatus: whole.status,
    persistedError: whole.error === undefined ? null : whole.error,
    afterBack,
  };
}

const readline = require('readline');
const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on('line', (line) => {
  if (!line.trim()) return;
  runCase(JSON.parse(line)).then(
    (result) => process.stdout.write(JSON.stringify(result) + '\n'),
    (err) => process.stdout.write(JSON.stringify({ error: String(err) }) + '\n')
  );
});
