#!/usr/bin/env bash
# A refine_app grid on a Slurm cluster: one array task per shard (one GPU each), then a merge job
# that runs once every shard succeeded (--dependency=afterok on the array).
#
#   tools/slurm_grid.sh SHARDS OUT REFINE_APP_FLAGS...
#   e.g. tools/slurm_grid.sh 8 /scratch/$USER/table1 --table1 --recipe blog --seeds 5 --data /datasets
#
# Shard K runs `refine_app FLAGS --shard K/SHARDS` in OUT/shard-K/<run dir>; a task that is
# requeued (or submitted again) continues its shard with --resume. The merge job writes
# OUT/merged. Run from the repository root on a login node; $REFINE_APP overrides the binary
# (default build/apps/refine_app, made absolute). sbatch takes partition, account and time limit
# from its own environment (SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_TIMELIMIT, ...);
# $RF_SHARD_SBATCH_ARGS and $RF_MERGE_SBATCH_ARGS add options to the shard and merge jobs.
set -euo pipefail

shard_task() {  # shards out app flags...
  local shards=$1 out=$2 app=$3
  shift 3
  local k=${SLURM_ARRAY_TASK_ID:?not in a Slurm array task}
  local parent=$out/shard-$k
  mkdir -p "$parent"
  local previous
  previous=$(find "$parent" -mindepth 2 -maxdepth 2 -name config.json -printf '%h\n' | head -n 1)
  if [[ -n $previous ]]; then
    exec "$app" --resume "$previous"
  fi
  exec "$app" "$@" --shard "$k/$shards" --out "$parent"
}

merge_task() {  # out app
  local out=$1 app=$2
  local dirs=()
  mapfile -t dirs < <(find "$out" -mindepth 3 -maxdepth 3 -path "$out/shard-*/*/config.json" -printf '%h\n' | sort)
  exec "$app" merge "${dirs[@]}" --out "$out/merged"
}

case ${1:-} in
  --shard-task) shift; shard_task "$@" ;;
  --merge-task) shift; merge_task "$@" ;;
  ''|-h|--help) sed -n '2,16p' "$0"; exit 2 ;;
  *)
    shards=$1 out=$2
    shift 2
    [[ $shards =~ ^[1-9][0-9]*$ ]] || { echo "slurm_grid.sh: SHARDS '$shards' is not a positive integer" >&2; exit 2; }
    app=$(realpath "${REFINE_APP:-build/apps/refine_app}")
    [[ -x $app ]] || { echo "slurm_grid.sh: $app is not an executable (build it, or set REFINE_APP)" >&2; exit 2; }
    mkdir -p "$out/slurm"
    out=$(realpath "$out")
    # shellcheck disable=SC2086  # the extra sbatch options are words to split
    array=$(sbatch --parsable --job-name=refine-shard --array="0-$((shards - 1))" --gres=gpu:1 \
      --output="$out/slurm/shard-%a.out" ${RF_SHARD_SBATCH_ARGS:-} \
      "$0" --shard-task "$shards" "$out" "$app" "$@")
    array=${array%%;*}  # "jobid;cluster" on federated clusters
    # shellcheck disable=SC2086
    merge=$(sbatch --parsable --job-name=refine-merge --dependency="afterok:$array" \
      --output="$out/slurm/merge.out" ${RF_MERGE_SBATCH_ARGS:-} \
      "$0" --merge-task "$out" "$app")
    echo "submitted shards: job array $array (0-$((shards - 1))), merge: job ${merge%%;*} after all succeed"
    echo "results: $out/merged (logs in $out/slurm/)"
    ;;
esac
