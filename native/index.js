'use strict';
// Loads the compiled addon. If it is missing (never built, built for another
// Node ABI, or a failed build), the error says so and names the fix.
const path = require('node:path');

const candidates = [
  path.join(__dirname, 'build', 'Release', 'dlite_native.node'),
  path.join(__dirname, 'build', 'Debug', 'dlite_native.node'),
];

function load() {
  let firstError;
  for (const file of candidates) {
    try {
      return require(file);
    } catch (error) {
      if (error && error.code === 'MODULE_NOT_FOUND' && String(error.message).includes(file)) {
        firstError = firstError || error;
        continue;
      }
      const e = new Error(
        `dlite-native failed to load from ${file}: ${error && error.message}. ` +
          'Rebuild it for this Node version with `npm rebuild dlite-native` (needs python3, make and a C++ compiler).',
      );
      e.code = 'DLITE_NATIVE_LOAD_FAILED';
      e.cause = error;
      throw e;
    }
  }
  const e = new Error(
    `dlite-native is not built (no ${candidates[0]}). ` +
      'Build it with `npm rebuild dlite-native` (needs python3, make and a C++ compiler), or run the setup script.',
  );
  e.code = 'DLITE_NATIVE_MISSING';
  e.cause = firstError;
  throw e;
}

const binding = load();

exports.probe = binding.probe;
exports.openTap = binding.openTap;
exports.closeFd = binding.closeFd;
exports.flock = binding.flock;
exports.peerCredentials = binding.peerCredentials;
exports.sendFd = binding.sendFd;
exports.requestFd = binding.requestFd;
exports.bindSocket = binding.bindSocket;
exports.platform = binding.platform;
