'use strict';

const assert = require('assert');
const { parse, format } = require('../lib');

describe('parse', function () {
  it('reads pairs', function () {
    assert.deepStrictEqual(parse('a=1&b=two'), { a: '1', b: 'two' });
  });

  it('skips a leading question mark', function () {
    assert.deepStrictEqual(parse('?x=y'), { x: 'y' });
  });

  it('collects repeated keys', function () {
    assert.deepStrictEqual(parse('t=a&t=b&t=c'), { t: ['a', 'b', 'c'] });
  });

  it('decodes percent escapes', function () {
    assert.deepStrictEqual(parse('q=caf%C3%A9%26co'), { q: 'café&co' });
  });
});

describe('format', function () {
  it('writes pairs in key order', function () {
    assert.strictEqual(format({ a: '1', b: ['x', 'y'] }), 'a=1&b=x&b=y');
  });
});
