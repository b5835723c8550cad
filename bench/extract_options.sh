#!/bin/bash
# goal 3 of issue 11: the options for the two restores of recover, measured on the recover bench's cached base (919 MB tar): two extractions at once vs one extraction + a copy (bench/results/recover.md)
set -e
B=/var/tmp/restoredrill-recover-bench/u2000000-o6000000-none-v1/backups/b1/base.tar
W=/var/tmp/rf-extract; rm -rf $W; mkdir -p $W
for rep in 1 2; do
  rm -rf $W/*; mkdir $W/a $W/b; sync
  s=$(date +%s.%N); tar -xf $B -C $W/a & tar -xf $B -C $W/b & wait; e=$(date +%s.%N)
  echo "two tar -xf in parallel: $(echo "$e - $s" | bc)"
  rm -rf $W/*; mkdir $W/a; sync
  s=$(date +%s.%N); tar -xf $B -C $W/a; m=$(date +%s.%N); cp -a --reflink=auto $W/a $W/b; e=$(date +%s.%N)
  echo "one tar -xf then cp -a --reflink=auto: $(echo "$e - $s" | bc) (tar $(echo "$m - $s" | bc), cp $(echo "$e - $m" | bc))"
  rm -rf $W/*; mkdir $W/a; sync
  s=$(date +%s.%N); tar -xf $B -C $W/a; e=$(date +%s.%N)
  echo "one tar -xf alone: $(echo "$e - $s" | bc)"
done
rm -rf $W
