#!/bin/bash
# A throw-away single-node Slurm cluster for the tests (Debian 12's slurm-wlm 22.05 and munge), run as root:
# munged, slurmctld and slurmd on this machine, with their state, sockets and logs under one directory, on ports of
# their own, and one fake GPU (GRES without a device file) so that the GPU script can be checked with --test-only.
#   slurm/local-cluster.sh start|stop|status|env        (directory: $COLLEMU_SLURM_LOCAL, default /tmp/collemu-slurm)
#   slurm/local-cluster.sh wait JOBID                    (until it leaves the queue; fails unless it COMPLETED)
# `stop` stops only the daemons this directory started (by their pid files), and unmounts the cgroup file systems
# `start` had to mount.
set -euo pipefail
D=${COLLEMU_SLURM_LOCAL:-/tmp/collemu-slurm}
H=$(hostname -s)
export SLURM_CONF=$D/etc/slurm.conf
running() {  # a daemon of this directory is alive (its pid file names a live process of that name)
  [[ -s $D/run/$1.pid ]] || return 1
  local pid; pid=$(cat "$D/run/$1.pid")
  kill -0 "$pid" 2>/dev/null && [[ $(cat /proc/"$pid"/comm 2>/dev/null) == "$1" ]]
}
until_true() { for _ in $(seq 150); do eval "$1" && return 0; sleep 0.2; done; echo "local-cluster: timed out: $1" >&2; return 1; }

start() {
  [[ $(id -u) -eq 0 ]] || { echo "local-cluster: needs root (slurmd runs jobs as their users)" >&2; exit 1; }
  if running munged && running slurmctld && running slurmd; then return; fi
  stop > /dev/null 2>&1 || true
  rm -rf "$D"/{state,spool,run,log}
  mkdir -p "$D"/{etc,run,log,state/ctld,spool/slurmd}
  chmod 755 "$D" "$D/run"
  [[ -s $D/etc/munge.key ]] || mungekey --create --keyfile="$D/etc/munge.key"
  chmod 600 "$D/etc/munge.key"
  munged --socket="$D/run/munge.sock" --key-file="$D/etc/munge.key" --pid-file="$D/run/munged.pid" \
         --log-file="$D/log/munged.log" --seed-file="$D/state/munged.seed"
  local hw; hw=$(slurmd -C | head -1)   # NodeName=... CPUs=... RealMemory=...
  cat > "$D/etc/gres.conf" << EOC
AutoDetect=off
NodeName=$H Name=gpu Count=1 File=/dev/null
EOC
  cat > "$SLURM_CONF" << EOC
ClusterName=collemu-test
SlurmctldHost=$H(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/run/munge.sock
SlurmctldPort=${COLLEMU_SLURMCTLD_PORT:-16817}
SlurmdPort=${COLLEMU_SLURMD_PORT:-16818}
StateSaveLocation=$D/state/ctld
SlurmdSpoolDir=$D/spool/slurmd
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=batch_sched_delay=0
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=pmix
ReturnToService=2
GresTypes=gpu
$hw Gres=gpu:1 NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOC
  # slurmd needs the cgroup file system (Slurm 22.05 cannot run without its cgroup plugin); a chroot may not have it
  # mounted: mount it as the kernel has it (/proc/self/cgroup: the unified v2 hierarchy, or v1 controllers under a
  # tmpfs), listing each mount in run/cgroup-mounts for stop to unmount.
  if ! mountpoint -q /sys/fs/cgroup; then
    if [[ $(grep -cv '^0::' /proc/self/cgroup) -eq 0 ]]; then
      mount -t cgroup2 none /sys/fs/cgroup && echo /sys/fs/cgroup >> "$D/run/cgroup-mounts"
    else
      mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup && echo /sys/fs/cgroup >> "$D/run/cgroup-mounts"
      local ctrl dir
      while IFS=: read -r _ ctrl _; do
        [[ -n $ctrl ]] || continue
        dir=/sys/fs/cgroup/${ctrl#name=}
        mkdir -p "$dir"
        mount -t cgroup -o "$ctrl" cgroup "$dir" && echo "$dir" >> "$D/run/cgroup-mounts"
      done < /proc/self/cgroup
    fi
  fi
  slurmctld -f "$SLURM_CONF"
  slurmd -f "$SLURM_CONF" -N "$H"
  until_true "running slurmctld && running slurmd"
  until_true "[[ \$(sinfo -h -n $H -o %t 2>/dev/null) == idle ]]"
}

stop() {
  local p pid
  for p in slurmd slurmctld munged; do
    running "$p" || continue
    pid=$(cat "$D/run/$p.pid")
    kill -TERM "$pid"
    until_true "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid"
  done
  if [[ -s $D/run/cgroup-mounts ]]; then
    tac "$D/run/cgroup-mounts" | while read -r dir; do umount "$dir"; done
    rm -f "$D/run/cgroup-mounts"
  fi
}

wait_job() {  # polls (sbatch --wait polls every few seconds only)
  local id=$1
  while [[ -n $(squeue -h -j "$id" -o %i 2>/dev/null) ]]; do sleep 0.3; done
  local state; state=$(scontrol show job "$id" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | sort -u | tr '\n' ' ')
  [[ $state == "JobState=COMPLETED " ]] || { echo "local-cluster: job $id: ${state:-gone from the controller}" >&2; return 1; }
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  wait) wait_job "${2:?job id}" ;;
  env) echo "export SLURM_CONF=$SLURM_CONF" ;;
  status) for p in munged slurmctld slurmd; do running "$p" && echo "$p up" || echo "$p down"; done ;;
  *) echo "usage: $0 start|stop|status|env|wait JOBID" >&2; exit 2 ;;
esac
