import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeadlineHeap } from '../../../../src/registry/memory/deadline-heap.js';
import { RecordSlots } from '../../../../src/registry/memory/record-slots.js';
import { seededRandom } from '../../../../src/testing/index.js';

const value = (n: number): Uint8Array => Uint8Array.of(n & 0xff, n >> 8);

describe('RecordSlots', () => {
  it('keeps every key, value, stamp and deadline as its arrays grow from a few slots to thousands', () => {
    const slots = new RecordSlots(5000);
    const at = new Map<string, number>();
    for (let i = 0; i < 5000; i++) {
      const slot = slots.insert(`k${i}`, value(i));
      slots.stamp(slot, i + 1, 1000 + i, 2000 + i);
      slots.setDeadline(slot, i % 3 === 0 ? 0 : 10_000 + ((i * 7919) % 5000));
      at.set(`k${i}`, slot);
    }
    assert.equal(slots.size, 5000);
    for (let i = 0; i < 5000; i++) {
      const slot = slots.find(`k${i}`);
      assert.equal(slot, at.get(`k${i}`));
      if (slot === undefined) continue;
      assert.equal(slots.keys[slot], `k${i}`);
      assert.deepEqual(slots.values[slot], value(i));
      assert.equal(slots.version(slot), i + 1);
      assert.equal(slots.createdAt(slot), 1000 + i);
      assert.equal(slots.updatedAt(slot), 2000 + i);
      assert.equal(slots.expiresAt(slot), i % 3 === 0 ? 0 : 10_000 + ((i * 7919) % 5000));
    }
  });

  it('lists slots from most to least recently used through inserts, uses and removals', () => {
    const slots = new RecordSlots(100);
    const model: string[] = []; // least recently used first
    const random = seededRandom(11);
    for (let step = 0; step < 2000; step++) {
      const roll = random();
      if (roll < 0.4 && slots.size < 100) {
        const key = `k${step}`;
        slots.insert(key, value(step));
        model.push(key);
      } else if (roll < 0.8 && model.length > 0) {
        const key = model[Math.floor(random() * model.length)] as string;
        slots.use(slots.find(key) as number);
        model.splice(model.indexOf(key), 1);
        model.push(key);
      } else if (model.length > 0) {
        const key = model[Math.floor(random() * model.length)] as string;
        slots.remove(slots.find(key) as number);
        model.splice(model.indexOf(key), 1);
      }
      if (step % 100 === 0) {
        const listed = [...slots.newestFirst()].map((slot) => slots.keys[slot]);
        assert.deepEqual(listed, [...model].reverse(), `order after step ${step}`);
        assert.equal(slots.oldest() === -1 ? undefined : slots.keys[slots.oldest()], model[0]);
      }
    }
  });

  it('reuses a freed slot before growing, and forgets its key, value and deadline', () => {
    const slots = new RecordSlots(12);
    const taken = Array.from({ length: 12 }, (_, i) => slots.insert(`k${i}`, value(i)));
    const freed = taken[5] as number;
    slots.setDeadline(freed, 500);
    slots.remove(freed);
    assert.equal(slots.find('k5'), undefined);
    assert.equal(slots.keys[freed], undefined);
    assert.equal(slots.values[freed], undefined);
    assert.equal(slots.scheduled, 0);
    assert.equal(slots.insert('fresh', value(99)), freed);
    assert.equal(slots.expiresAt(freed), 0);
    assert.throws(() => slots.insert('one too many', value(0)), /record slots exhausted/);
  });

  it('starts over empty after reset, at its first size', () => {
    const slots = new RecordSlots(1000);
    for (let i = 0; i < 1000; i++) slots.setDeadline(slots.insert(`k${i}`, value(i)), 1 + i);
    slots.reset();
    assert.equal(slots.size, 0);
    assert.equal(slots.scheduled, 0);
    assert.equal(slots.oldest(), -1);
    assert.deepEqual([...slots.newestFirst()], []);
    assert.equal(slots.insert('again', value(1)), 0);
  });
});

describe('DeadlineHeap', () => {
  it('always names a slot with the earliest deadline, through random sets, changes and clears', () => {
    const capacity = 300;
    const heap = new DeadlineHeap(capacity);
    const model = new Map<number, number>();
    const random = seededRandom(7);
    for (let step = 0; step < 5000; step++) {
      const slot = Math.floor(random() * capacity);
      const at = random() < 0.25 ? 0 : 1 + Math.floor(random() * 1000);
      heap.set(slot, at);
      if (at === 0) model.delete(slot);
      else model.set(slot, at);
      assert.equal(heap.size, model.size);
      assert.equal(heap.get(slot), at);
      const earliest = Math.min(...model.values());
      const due = heap.due(earliest);
      if (model.size === 0) assert.equal(due, -1);
      else assert.equal(model.get(due), earliest, `step ${step}`);
      if (model.size > 0) assert.equal(heap.due(earliest - 1), -1);
    }
  });

  it('keeps its deadlines when it grows', () => {
    const heap = new DeadlineHeap(4);
    for (let slot = 0; slot < 4; slot++) heap.set(slot, 100 - slot);
    heap.grow(8);
    for (let slot = 4; slot < 8; slot++) heap.set(slot, 200 + slot);
    for (let slot = 0; slot < 4; slot++) assert.equal(heap.get(slot), 100 - slot);
    assert.equal(heap.due(97), 3);
    assert.equal(heap.size, 8);
  });
});
