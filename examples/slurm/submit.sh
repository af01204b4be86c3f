#!/usr/bin/env bash
# A sweep on a Slurm cluster: an array of shards, then a job that finishes it once they all
# succeeded. Prints the two job ids (array, finish).
#   examples/slurm/submit.sh FILE.toml DIR [SHARDS]     (SHARDS: at most this many, default 8)
# BILENS names the bilens binary (default: `bilens` on the PATH of the nodes); extra sbatch
# options (partition, time, account) go in SBATCH_* variables, e.g. SBATCH_PARTITION=gpu.
# If a shard fails, the finish job never starts (its dependency cannot be met): rerun the failed
# shards with `sbatch --array=<their ids> shard.sbatch FILE DIR` — finished runs are kept — or
# submit finish.sbatch alone, which redoes every missing run itself.
set -euo pipefail
if (($# < 2)); then
    echo "usage: $0 FILE.toml DIR [SHARDS]" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
file=$1
out=$2
runs=$("${BILENS:-bilens}" sweep "$file" --list | wc -l)
shards=$(( ${3:-8} < runs ? ${3:-8} : runs ))
array=$(sbatch --parsable --array="0-$((shards - 1))" "$here/shard.sbatch" "$file" "$out")
array=${array%%;*}
finish=$(sbatch --parsable --dependency="afterok:$array" "$here/finish.sbatch" "$file" "$out")
echo "${array} ${finish%%;*}"
