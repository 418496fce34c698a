'use strict';

const { splitLine } = require('./split');

module.exports = { splitLine };
