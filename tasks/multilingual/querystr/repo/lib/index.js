'use strict';

/** The pairs of a query string (a leading "?" is skipped): a key seen twice gives an array of its values. */
function parse(query) {
  const result = {};
  const text = query.startsWith('?') ? query.slice(1) : query;
  for (const part of text.split('&')) {
    if (part === '') continue;
    const at = part.indexOf('=');
    const key = decode(at === -1 ? part : part.slice(0, at));
    const value = at === -1 ? '' : decode(part.slice(at + 1));
    if (Object.prototype.hasOwnProperty.call(result, key)) {
      result[key] = [].concat(result[key], value);
    } else {
      result[key] = value;
    }
  }
  return result;
}

function decode(text) {
  return decodeURIComponent(text);
}

/** The query string of an object's pairs, in key order; arrays give one pair per value. */
function format(pairs) {
  return Object.keys(pairs)
    .flatMap((key) => [].concat(pairs[key]).map((value) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`))
    .join('&');
}

module.exports = { parse, format };
