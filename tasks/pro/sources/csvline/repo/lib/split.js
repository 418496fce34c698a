'use strict';

/**
 * The fields of one CSV line, e.g. splitLine('a,b') gives ['a', 'b'].
 */
function splitLine(line, separator = ',') {
  if (line === '') {
    return [];
  }
  return line.split(separator);
}

module.exports = { splitLine };
