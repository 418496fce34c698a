'use strict';

const test = require('node:test');
const assert = require('node:assert');
const { splitLine } = require('../lib');

test('splits plain fields', () => {
  assert.deepStrictEqual(splitLine('a,b,c'), ['a', 'b', 'c']);
});

test('an empty line has no fields', () => {
  assert.deepStrictEqual(splitLine(''), []);
});

test('another separator', () => {
  assert.deepStrictEqual(splitLine('a;b', ';'), ['a', 'b']);
});
