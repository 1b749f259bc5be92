#!/bin/bash -eu
# Builds fuzz_differential for ClusterFuzzLite/OSS-Fuzz.
# The core is compiled with the environment's CC/CFLAGS (sanitizer and coverage flags).
pip3 install .

# The target loads its engines (and the policy its record set) with importlib, so name them for the bundler.
compile_python_fuzzer fuzz/fuzz_differential.py \
  --hidden-import harness._core \
  --hidden-import harness._records \
  --hidden-import harness.reference \
  --collect-submodules harness

# Seeds: the hand-written programs in binary form, and the dictionary, named after the target.
python3 -m harness corpus export corpus/seeds --zip "$OUT/fuzz_differential_seed_corpus.zip"
cp harness/fuzz/fuzz_differential.dict "$OUT/fuzz_differential.dict"
