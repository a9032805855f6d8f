import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RecordBudget } from '../../../../src/kad/serve/storage-budget.js';

describe('RecordBudget', () => {
  it('gives up the records written least recently to make room, by count and by bytes', () => {
    const budget = new RecordBudget(3, 100);
    for (const key of ['a', 'b', 'c']) assert.deepEqual(budget.written(key, 10), []);
    assert.deepEqual(budget.makeRoom('d', 10), [['a', 10]]);
    budget.written('d', 10);
    budget.written('b', 10); // written again: now the newest
    assert.deepEqual(budget.makeRoom('e', 85), [
      ['c', 10],
      ['d', 10],
    ]);
    assert.deepEqual(budget.usage(), { entries: 1, bytes: 10 });
  });

  it('never gives up the record being written, even when it alone is over the bytes', () => {
    const budget = new RecordBudget(10, 50);
    budget.written('a', 20);
    assert.deepEqual(budget.makeRoom('big', 80), [['a', 20]]);
    assert.deepEqual(budget.written('big', 80), []);
    assert.deepEqual(budget.usage(), { entries: 1, bytes: 80 });
  });

  it('trims after concurrent writes overran it, and counts again records whose removal failed', () => {
    const budget = new RecordBudget(2, Number.POSITIVE_INFINITY);
    budget.written('a', 1);
    budget.written('b', 1);
    const evicted = budget.written('c', 1);
    assert.deepEqual(evicted, [['a', 1]]);
    budget.restore(evicted);
    assert.deepEqual(budget.usage(), { entries: 3, bytes: 3 });
    budget.forget('b');
    budget.forget('missing');
    assert.deepEqual(budget.usage(), { entries: 2, bytes: 2 });
  });
});
