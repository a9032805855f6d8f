import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  boolean,
  implementing,
  integerAtLeast,
  integerInRange,
  optionError,
  positiveNumber,
  positiveOrInfinite,
  positiveRate,
  probability,
} from '../../../src/kad/option-checks.js';

const invalid = (message: RegExp) => ({ name: 'KadError', code: 'INVALID_OPTION', message });

describe('option checks', () => {
  it('word every failure "<option> must be <what> (got <value>)"', () => {
    assert.throws(
      () => positiveNumber('timeoutMs', 0, 1, ' of ms'),
      invalid(/^timeoutMs must be a positive number of ms \(got 0\)$/),
    );
    assert.throws(() => integerAtLeast('k', 2.5, 8, 1), invalid(/^k must be an integer >= 1 \(got 2\.5\)$/));
    assert.throws(
      () => integerInRange('port', 70000, 0, 0, 65535),
      invalid(/^port must be an integer in \[0, 65535\] \(got 70000\)$/),
    );
    assert.throws(() => probability('lossRate', 2, 0), invalid(/^lossRate must be a number in \[0, 1\] \(got 2\)$/));
    assert.throws(() => boolean('readOnly', 'yes', false), invalid(/^readOnly must be a boolean \(got "yes"\)$/));
    assert.throws(
      () => implementing('clock', {}, 'Clock', 'setTimeout'),
      invalid(/^clock must be a Clock \(an object with setTimeout\(\)\) \(got Object\)$/),
    );
    assert.match(optionError('transport', 'IPv4').message, /^transport must be IPv4$/);
  });

  it('return the fallback for undefined and the value otherwise', () => {
    assert.equal(positiveNumber('a', undefined, 7), 7);
    assert.equal(integerAtLeast('a', 0, 7, 0), 0);
    assert.equal(integerInRange('a', undefined, 3, 1, 5), 3);
    assert.equal(boolean('a', false, true), false);
    assert.equal(probability('a', 1, 0), 1);
  });

  it('allow Infinity only where a bound may be off', () => {
    assert.equal(positiveOrInfinite('maxBytes', Number.POSITIVE_INFINITY, 1), Number.POSITIVE_INFINITY);
    assert.equal(positiveRate('ratePerSecond', Number.POSITIVE_INFINITY, 1), Number.POSITIVE_INFINITY);
    assert.throws(() => positiveNumber('a', Number.POSITIVE_INFINITY, 1), invalid(/^a must be a positive number/));
    assert.throws(() => positiveRate('ratePerSecond', 0, 1), invalid(/per second or Infinity \(got 0\)$/));
  });
});
