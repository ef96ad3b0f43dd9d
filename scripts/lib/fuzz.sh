# Runs the libFuzzer targets of a TWINSIM_FUZZ build (sourced by
# scripts/run-tests --fuzz after bootstrap.sh; docs/fuzzing.md).
#
# twinsim_fuzz BUILD_DIR SECONDS [TARGET...]
#   Runs each target (all of tests/fuzz/CMakeLists.txt's when none is named)
#   for SECONDS, starting from its committed seeds (tests/fuzz/corpus/TARGET,
#   read only) and the inputs it found before (BUILD_DIR/fuzz-corpus/TARGET).
#   Fails, after trying every target, when any input crashed, leaked, tripped a
#   sanitizer, ran longer than TWINSIM_FUZZ_TIMEOUT seconds (default 120) or
#   used more than TWINSIM_FUZZ_RSS_MB megabytes (default 2048). The input is
#   saved as BUILD_DIR/fuzz-artifacts/TARGET-crash-<sha1> (or -leak-, -timeout-,
#   -oom-) with libFuzzer's report in BUILD_DIR/fuzz-logs/TARGET.log.
#   Targets named in TWINSIM_FUZZ_CORPUS_ONLY only replay their seeds and saved
#   inputs (-runs=0): for a target whose known, pending findings would stop
#   every run at once.
twinsim_fuzz() {
  local build="$1" seconds="$2"; shift 2
  local targets=("$@")
  if [ ${#targets[@]} -eq 0 ]; then
    # The list in tests/fuzz/CMakeLists.txt is the one place targets are named.
    read -r -a targets <<<"$(sed -n 's/^set(TWINSIM_FUZZ_TARGETS \(.*\))$/\1/p' "$TWINSIM_ROOT/tests/fuzz/CMakeLists.txt")"
    if [ ${#targets[@]} -lt 10 ]; then
      echo "error: read ${#targets[@]} fuzz targets from tests/fuzz/CMakeLists.txt (its set(TWINSIM_FUZZ_TARGETS ...) line must stay on one line)" >&2
      return 1
    fi
  fi
  local timeout="${TWINSIM_FUZZ_TIMEOUT:-120}" rss="${TWINSIM_FUZZ_RSS_MB:-2048}"
  local failed=() target
  mkdir -p "$build/fuzz-artifacts" "$build/fuzz-logs"
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
  for target in "${targets[@]}"; do
    local exe="$build/tests/fuzz/fuzz_$target" seeds="$TWINSIM_ROOT/tests/fuzz/corpus/$target"
    local found="$build/fuzz-corpus/$target" log="$build/fuzz-logs/$target.log"
    [ -x "$exe" ] || { echo "error: no fuzz target $exe (build with -DTWINSIM_FUZZ=ON)" >&2; failed+=("$target"); continue; }
    mkdir -p "$found" "$seeds"
    local limits=(-timeout="$timeout" -rss_limit_mb="$rss" -malloc_limit_mb="$rss" -print_final_stats=1
                  -artifact_prefix="$build/fuzz-artifacts/$target-")
    if [[ " ${TWINSIM_FUZZ_CORPUS_ONLY:-} " == *" $target "* ]]; then
      say "fuzz $target: replaying the corpus only (TWINSIM_FUZZ_CORPUS_ONLY)"
      limits+=(-runs=0)
    else
      say "fuzz $target: ${seconds}s"
      limits+=(-max_total_time="$seconds")
    fi
    # The working corpus comes first: libFuzzer adds new inputs to it, never to the seeds.
    if ! (cd "$build" && "$exe" "${limits[@]}" "$found" "$seeds") >"$log" 2>&1; then
      echo "fuzz $target FAILED; the end of $log:" >&2
      tail -n 40 "$log" >&2
      failed+=("$target")
    else
      grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' "$log" | tail -n 1 >&2 || true
    fi
  done
  if [ ${#failed[@]} -gt 0 ]; then
    echo "error: fuzz targets failed: ${failed[*]} (inputs in $build/fuzz-artifacts, logs in $build/fuzz-logs)" >&2
    return 1
  fi
}
