#!/bin/bash
set -e

run_all_tests() {
  echo "Running all tests..."
  node --test test/ 2>&1
}

run_selected_tests() {
  local test_files=("$@")
  echo "Running selected tests: ${test_files[@]}"
  local status=0
  for file in "${test_files[@]}"; do
    echo "# FILE: $file"
    node --test "$file" 2>&1 || status=1
  done
  return $status
}

cd /app

if [ $# -eq 0 ]; then
  run_all_tests
  exit $?
fi

if [[ "$1" == *","* ]]; then
  IFS=',' read -r -a TEST_FILES <<< "$1"
else
  TEST_FILES=("$@")
fi

run_selected_tests "${TEST_FILES[@]}"
