#!/usr/bin/env python3
"""Bad inputs a new user tries, each with the error collemu gives: the table of docs/errors.md, and its test.

    bad_inputs.py --collemu build/collemu                        print the table
    bad_inputs.py --collemu build/collemu --update docs/errors.md rewrite the page's table (between its markers)
    bad_inputs.py --collemu build/collemu --check docs/errors.md  the test: every case exits 2 (a user error, never a
        signal or a crash) with a message that contains what the case expects, and the page shows what collemu says

Every case runs with COLLEMU_MEMORY_LIMIT=1GB (so that the memory refusals read alike on every machine). The inputs
are made in a temporary folder (small generated traces, edited copies); paths in messages are shown
relative to it as TMP/.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

NCCL_LINE = ("h:{pid}:1 [{dev}] NCCL INFO AllReduce: opCount 0 sendbuff 0x1 recvbuff 0x2 count {count} datatype 7 op 0 "
             "root 0 comm 0x{comm:x} [nranks={n}] stream 0x3")


def make_inputs(collemu, tmp):
    def write(name, text):
        with open(os.path.join(tmp, name), "w") as f:
            f.write(text)
    write("dup.yaml", "preset: prometheus\nbag:\n  oversubscription: 7:1\n  oversubscription: 2:1\n")
    write("multi.yaml", "preset: prometheus\n---\nbag: {oversubscription: 7:1}\n")
    write("far.yaml", "preset: prometheus\nbuilding:\n  distance: 1e12km\n")
    os.makedirs(os.path.join(tmp, "confdir"), exist_ok=True)
    # A 10 MB value: the message quotes it shortened (common::message_for_user), not whole.
    write("long.yaml", "preset: prometheus\nnic:\n  speed: " + "x" * 10_000_000 + "\n")
    # Found by fuzzing (scripts/fuzz.sh): yaml-cpp's LoadAll looped for ever on these 3 bytes; a key that is a mapping
    # escaped as yaml-cpp's exception; an alias inside the mapping it names made a cycle that overflowed the stack.
    write("loop.yaml", ',"i')
    write("mapkey.yaml", '{"preset": "llama3-24k", {"pod_leaves": 192}}\n')
    write("cycle.yaml", "preset: prometheus\nbag: &b {x: *b}\n")
    write("unitless.yaml", "preset: prometheus\nnic:\n  speed: 400\n")
    write("notes.txt", "this is not a trace\n")
    write("mismatch.log", NCCL_LINE.format(pid=1, dev=0, count=8, comm=10, n=2) + "\n" +
          NCCL_LINE.format(pid=2, dev=1, count=9, comm=11, n=2) + "\n")
    write("huge.log", NCCL_LINE.format(pid=1, dev=0, count=400000000000000000, comm=10, n=1) + "\n")
    fr = {"version": "2.4", "pg_config": {"0": {"name": "0", "desc": "default_pg", "ranks": "[0]"}}, "pg_status": {},
          "rank": 0, "entries": [{"record_id": 0, "pg_id": 0, "process_group": ["0", "default_pg"],
                                  "collective_seq_id": 1, "p2p_seq_id": 0, "op_id": 1,
                                  "profiling_name": "nccl:all_reduce", "time_created_ns": 1,
                                  "input_sizes": [[2**32, 2**32, 2]], "input_dtypes": ["Float"],
                                  "output_sizes": [[2**32, 2**32, 2]], "output_dtypes": ["Float"],
                                  "state": "completed", "is_p2p": False}]}
    write("fr_wrap.json", json.dumps(fr))
    # Rank 1 initialised the communicator (its Init line) and ran nothing: it is that rank, not a rank without a log.
    write("idle.log", "h:1:1 [0] NCCL INFO comm 0xa rank 0 nranks 2 cudaDev 0 busId 1b000 commId 0x11 - Init COMPLETE\n"
          "h:2:2 [1] NCCL INFO comm 0xb rank 1 nranks 2 cudaDev 1 busId 2c000 commId 0x11 - Init COMPLETE\n" +
          NCCL_LINE.format(pid=1, dev=0, count=8, comm=10, n=2) + "\n")
    write("pgsize.json", json.dumps({"schemaVersion": 1, "traceEvents": [], "distributedInfo": {
        "backend": "nccl", "rank": 0, "world_size": 2,
        "pg_config": [{"pg_name": "0", "pg_desc": "default_pg", "pg_size": 5, "ranks": [0, 1]}]}}))
    write("bignum.json", '{"schemaVersion": 1,\n "traceEvents": [{"ph": "X", "dur": 1e400}]}\n')
    write("dup_points.csv", "nic.speed,nic.speed\n100Gbps,200Gbps\n")
    # Chakra's JSON form (as shared/data/chakra/small_chakra.0.json): "{" then a newline once read as a protobuf.
    write("chakra.json", '{\n  "workload_graph": [\n    {"Id": 1, "Name": "x", "NodeType": 4, "runtime": 3}\n  ]\n}\n')
    subprocess.run([collemu, "trace", "gen", "llm", "-o", os.path.join(tmp, "eight.h5"), "--gpus", "8", "--tp", "2",
                    "--pp", "1", "--dp", "4", "--layers", "1"], check=True, capture_output=True)
    subprocess.run([collemu, "trace", "convert", os.path.join(tmp, "eight.h5"), "--to", "chakra", "-o",
                    os.path.join(tmp, "et")], check=True, capture_output=True)
    with open(os.path.join(tmp, "eight.h5"), "rb") as f:
        data = bytearray(f.read())
    write_bytes = lambda name, b: open(os.path.join(tmp, name), "wb").write(b)
    write_bytes("truncated.h5", bytes(data[: len(data) // 3]))
    # A version-1 trace (no checksums; tests/traces/data/README.md) with one byte changed: at 2373 (to 211) libhdf5
    # crashed reading it (SIGSEGV, in collemu before version-1 files were read in a child process); at 2317 (to 210) a
    # communicator's name is no longer UTF-8 (trace info --json failed with an exception from the JSON library).
    data_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "traces", "data")
    with open(os.path.join(data_dir, "llm_tp2_dp4_v1.h5"), "rb") as f:
        v1 = f.read()
    import gzip
    with gzip.open(os.path.join(data_dir, "long_name_v1.h5.gz"), "rb") as f:
        write_bytes("long_name_v1.h5", f.read())
    # At 2561 (to 1) libhdf5 loops for ever (found by h5_flip_v1_test): the child reading it is stopped after 10 s.
    for name, pos, value in (("v1_crash.h5", 2373, 211), ("v1_utf8.h5", 2317, 210), ("v1_loop.h5", 2561, 1)):
        b = bytearray(v1)
        b[pos] = value
        write_bytes(name, bytes(b))
    kineto = json.dumps({"schemaVersion": 1, "distributedInfo": {"backend": "nccl", "rank": 0, "world_size": 1},
                         "traceEvents": [{"ph": "X", "name": f"kernel {i}", "ts": i, "dur": 1} for i in range(2000)]})
    packed = gzip.compress(kineto.encode())
    write_bytes("cut.json.gz", packed[: len(packed) // 2])
    # An nccl-tests output (its header lines, then collemu coll's rows: nccl-tests' row format) of all_gather_perf.
    rows = subprocess.run([collemu, "coll", "--op", "allgather", "--ranks", "8", "-b", "1M", "-e", "16M", "-f", "4",
                           "--set", "region.buildings=1", "--set", "bag.enabled=false"],
                          check=True, capture_output=True, text=True).stdout
    write("ag.log", "# Collective test starting: all_gather_perf\n" +
          "".join(f"#  Rank {r:2d} Group  0 Pid {100 + r:6d} on     node00 device {r:2d} [0000:18:00] NVIDIA H100\n"
                  for r in range(8)) + "".join(l + "\n" for l in rows.splitlines() if not l.startswith("# collemu")))
    # A CSV of cases for collemu calibrate --cases (one AllGather of 8 ranks on one machine).
    write("cases.csv", "group,op,ranks,bytes,time_us,sets\nm0,allgather,8,16777216,120,building.gpus=8\n")


# (class, what the user did, arguments after `collemu`, text the message must contain)
CASES = [
    ("command line", "a misspelt command", ["nosuchcmd"], "unknown command 'nosuchcmd'"),
    ("command line", "a word where a number belongs", ["coll", "--ranks", "eight"],
     "--ranks = eight ('collemu coll --help' lists the options)"),
    ("command line", "an unknown option", ["run", "--bogus"], "--bogus ('collemu run --help' lists the options)"),
    ("command line", "a trace that does not exist", ["run", "--trace", "TMP/none.et"], "File does not exist"),
    ("config", "a key given twice in a YAML file", ["topo", "TMP/dup.yaml"], "key 'bag.oversubscription' is given twice"),
    ("config", "a second YAML document", ["topo", "TMP/multi.yaml"], "a second YAML document"),
    ("config", "a directory as the config", ["topo", "TMP/confdir"], "is a directory"),
    ("config", "a number without its unit", ["topo", "TMP/unitless.yaml"], "has no unit"),
    ("config", "a 10 MB value", ["topo", "TMP/long.yaml"], "...[10000002 characters]..."),
    ("config", "3 bytes that made yaml-cpp loop", ["topo", "TMP/loop.yaml"], "a fabric config must be a mapping"),
    ("config", "a key that is a mapping", ["topo", "TMP/mapkey.yaml"], "mapkey.yaml:1: a key must be a name"),
    ("config", "an alias inside the mapping it names", ["topo", "TMP/cycle.yaml"], "nested more than 16 deep"),
    ("config", "an unknown key", ["topo", "--set", "bag.oversub=4:1"], "unknown key 'bag.oversub'"),
    ("config", "a value outside physics", ["topo", "--set", "nic.speed=1e-300Gbps"], "is outside 1Gbps to 100Tbps"),
    ("config", "a value outside physics, in a file", ["topo", "TMP/far.yaml"], "far.yaml:3: key 'building.distance'"),
    ("config", "a constraint broken by the key the user set", ["topo", "--set", "scaleup.gpus=7"],
     "--set scaleup.gpus=7: impossible topology"),
    ("config", "more GPUs than the switches' ports", ["topo", "--set", "fabric.kind=dsf", "--set", "building.gpus=40000"],
     "more GPUs than ports"),
    ("config", "an unknown switch to fail", ["topo", "--fail", "r0.b9.p0.fe3"], "r0.b9.p0.fe3"),
    ("config", "a fat-tree too large, from its k", ["topo", "fat-tree", "--set", "fat_tree.k=1000"],
     "--set fat_tree.k=1000 (fat_tree.k 1000): impossible topology"),
    ("config", "a one-port BAG switch", ["topo", "--set", "bag.ports=1"],
     "--set bag.ports=1: impossible topology: a BAG switch joins buildings: it needs at least 2 ports"),
    ("config", "buildings without a BAG", ["topo", "--set", "bag.enabled=false"],
     "--set bag.enabled=false: the fabric is disconnected"),
    ("config", "a route from a GPU to itself", ["topo", "--route", "0:0"], "--route 0:0: SRC and DST are the same GPU"),
    ("coll", "no rank count", ["coll", "-b", "1M", "-e", "1M"], "expected the number of ranks"),
    ("coll", "one rank", ["coll", "--ranks", "1"], "--ranks 1: a collective of one rank moves nothing"),
    ("coll", "sizes that do not grow", ["coll", "--ranks", "8", "-f", "1"], "--stepfactor 1: expected a factor > 1"),
    ("coll", "more ranks than GPUs", ["coll", "--topo", "fat-tree", "--ranks", "999"], "more ranks than the fabric's"),
    ("coll", "a size past what is modelled", ["coll", "--ranks", "8", "-b", "1e30", "-e", "1e30"],
     "--minbytes 1e30: expected a size from 0 to 1e18 B"),
    ("coll", "a rate where a size belongs", ["coll", "--ranks", "8", "-b", "8 GB/s"], "minbytes 8 GB/s"),
    ("coll", "channels beyond NCCL's 64", ["coll", "--ranks", "8", "--channels", "100000"], "expected 1 to 64 channels"),
    ("coll", "NVLS across NVLink domains", ["coll", "--ranks", "16", "--algo", "NVLS"], "no such algorithm here"),
    ("coll", "an unknown datatype", ["coll", "--ranks", "8", "-d", "fp64"], "-d fp64: unknown datatype"),
    ("coll", "nccl-tests' rank count disagreeing with --ranks", ["coll", "--ranks", "8", "--np", "2", "-g", "8"],
     "differs from --np x -t x -g = 16"),
    ("trace", "a file that is no trace", ["trace", "info", "TMP/notes.txt"], "cannot tell the trace format"),
    ("trace", "ranks whose collectives disagree", ["trace", "info", "TMP/mismatch.log"],
     "op 0 is allreduce count 8 float32 but rank 1"),
    ("trace", "per-rank files with a rank missing",
     ["trace", "info", "TMP/et/trace.0.et", "TMP/et/trace.1.et", "TMP/et/trace.2.et", "TMP/et/trace.4.et"],
     "1 of the job's 5 ranks is in no file: 3"),
    ("trace", "an NCCL log of a rank that ran nothing", ["run", "-q", "--topo", "fat-tree", "--trace", "TMP/idle.log"],
     "commId 0x11 has 2 ranks, of which 1 are in the trace (without ops: ranks 1)"),
    ("trace", "a Kineto group whose size disagrees with its ranks", ["trace", "info", "TMP/pgsize.json"],
     "TMP/pgsize.json: distributedInfo.pg_config group '0': pg_size 5 but 2 ranks listed"),
    ("trace", "a JSON number past a double", ["trace", "info", "TMP/bignum.json"],
     "TMP/bignum.json:2: the number 1e400 (byte 57) is outside what a double holds"),
    ("trace", "a Chakra trace in its JSON form", ["trace", "info", "TMP/chakra.json"],
     "TMP/chakra.json: a Chakra or PyTorch execution trace in JSON: collemu reads Chakra's protobuf files"),
    ("trace", "the same file twice", ["trace", "info", "TMP/et/trace.1.et", "TMP/et/trace.1.et"], "given twice"),
    ("trace", "a count past 1e18 B", ["trace", "info", "TMP/huge.log"], "expected at most 1e18 B"),
    ("trace", "a tensor shape whose element count wraps 64 bits", ["trace", "info", "TMP/fr_wrap.json"],
     "overflows 64 bits"),
    ("trace", "a truncated .json.gz", ["trace", "info", "TMP/cut.json.gz"], "truncated gzip data"),
    ("trace", "a truncated .h5", ["trace", "info", "TMP/truncated.h5"], "truncated.h5"),
    ("trace", "a damaged version-1 .h5 that crashes libhdf5", ["trace", "info", "TMP/v1_crash.h5"],
     "libhdf5 died reading it"),
    ("trace", "a damaged version-1 .h5 that loops libhdf5", ["trace", "info", "TMP/v1_loop.h5"],
     "did not finish reading it in 10 s"),
    ("trace", "a version-1 .h5 with a name longer than version 2 holds", ["trace", "info", "TMP/long_name_v1.h5"],
     "long_name_v1.h5: cannot be rewritten as version 3: /comms/name: a string of 65536 bytes"),
    ("trace", "a version-1 .h5 whose name is not UTF-8", ["trace", "info", "--json", "TMP/v1_utf8.h5"],
     "/comms/name[12]: not UTF-8 text"),
    ("trace", "an MoE step without experts", ["trace", "gen", "moe", "-o", "TMP/x.h5", "--experts", "0"],
     "--experts 0: expected at least 1 expert"),
    ("memory", "a building of 100 million GPUs", ["topo", "--set", "building.gpus=100000000"],
     "a fabric of 200000000 GPUs needs about 160.0 GB"),
    ("memory", "an AllToAll of 32,768 ranks on the whole preset", ["coll", "--ranks", "32768", "--op", "alltoall"],
     "--ranks 32768: alltoall on 32768 ranks (about 1.34e+08 flows) needs about 53.8 GB"),
    ("memory", "a million QPs per connection", ["coll", "--ranks", "8", "--qps", "1000000"], "--qps 1000000:"),
    # A replay keeps the flows in flight (400 B each; a collective's are released once it is recorded): with a million
    # QPs per connection its first collective alone would need about 2.6e8 of them, refused before they are allocated.
    ("memory", "a replay whose flows in flight outgrow memory", ["run", "-q", "--qps", "1000000"],
     "op 0 (collective allgather on tp pp0 dp0) (about 2.56e+08 in flight) needs about 102.4 GB"),
    ("memory", "a trace of 4 million GPUs", ["trace", "gen", "llm", "-o", "TMP/x.h5", "--gpus", "4194304", "--dp",
                                             "32768"], "expected at most 2097152 ranks"),
    ("run", "a partial job", ["run", "-q", "--trace", "TMP/et/trace.0.et", "TMP/et/trace.2.et"],
     "the replay runs whole jobs only"),
    ("run", "an unknown placement", ["run", "-q", "--placement", "diagonal"], "--placement diagonal"),
    ("run", "a negative row count", ["run", "-q", "--top", "-3"], "--top -3: expected a number of rows"),
    ("run", "two jobs of one name", ["run", "-q", "--topo", "fat-tree", "--trace", "TMP/eight.h5", "--job",
                                     "b=TMP/eight.h5", "--job", "b=TMP/eight.h5"],
     "a job named b is already given (--job b=TMP/eight.h5)"),
    ("run", "a directory as the results file", ["run", "-q", "--out", "TMP/confdir"],
     "--out TMP/confdir: is a directory"),
    ("sweep", "a negative array task", ["sweep", "--trace", "TMP/eight.h5", "--topo", "fat-tree", "--param",
                                        "nic.speed=100Gbps,200Gbps", "--task", "-1", "--out", "TMP/s.h5"],
     "--task -1: the sweep has points 0 to 1"),
    ("sweep", "a points file with a column twice", ["sweep", "--trace", "TMP/eight.h5", "--topo", "fat-tree",
                                                    "--points", "TMP/dup_points.csv", "--out", "TMP/s.h5"],
     "dup_points.csv:1: the key nic.speed is given twice"),
    ("sweep", "a swept key also set", ["sweep", "--trace", "TMP/eight.h5", "--topo", "fat-tree", "--param",
                                       "nic.speed=100Gbps,200Gbps", "--set", "nic.speed=400Gbps", "--out", "TMP/s.h5"],
     "key nic.speed is also given as --set nic.speed=400Gbps"),
    ("run", "more channels than NCCL runs", ["run", "-q", "--min-nchannels", "65"], "--min-nchannels 65"),
    ("run", "p2p channels per remote peer past 64", ["run", "-q", "--nchannels-per-net-peer", "65"],
     "--nchannels-per-net-peer 65"),
    ("calibrate", "an nccl-tests output of another collective", ["calibrate", "--nccl-tests", "TMP/ag.log", "--op",
                                                                    "allreduce", "--set", "region.buildings=1",
                                                                    "--set", "bag.enabled=false"],
     "is all_gather_perf (allgather), not allreduce"),
    ("calibrate", "an nccl-tests option with a trace", ["calibrate", "--trace", "TMP/eight.h5", "--algo", "Ring"],
     "--algo: says how the --nccl-tests logs ran; a trace's collectives run with NCCL's own choices"),
    ("calibrate", "an nccl-tests option with a CSV of cases", ["calibrate", "--cases", "TMP/cases.csv", "--qps", "2"],
     "--qps: says how the --nccl-tests logs ran; --cases gives it per row"),
    ("calibrate", "a key that cannot be fitted", ["calibrate", "--nccl-tests", "TMP/ag.log", "--fit", "scaleup.gpus"],
     "expected a fabric key that is a share (%) or a duration"),
    ("validate", "a trace without measured times", ["validate", "-q", "--trace", "TMP/eight.h5"],
     "no measured time of a collective or receive"),
    ("run", "a finish tolerance that is not a small fraction", ["run", "-q", "--finish-tolerance", "0.5"],
     "--finish-tolerance 0.5: expected a fraction of a flow's sending time from 0 (exact) to 0.01"),
]


def run_case(collemu, tmp, args):
    argv = [collemu] + [a.replace("TMP/", tmp + "/") for a in args]
    # 1 GB of memory for every case, whatever the machine has: the memory refusals then read the same everywhere.
    env = dict(os.environ, COLLEMU_MEMORY_LIMIT="1GB")
    p = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
    msg = (p.stderr.strip().splitlines() or [""])[-1].replace(tmp + "/", "TMP/").replace(tmp, "TMP")
    return p.returncode, msg


def table(results):
    lines = ["| input | what the user did | command | exit | what collemu says |", "|---|---|---|---|---|"]
    for (cls, what, args, _), (rc, msg) in zip(CASES, results):
        cmd = "collemu " + " ".join(a if " " not in a else f"'{a}'" for a in args)
        esc = lambda t: t.replace("|", "\\|")
        lines.append(f"| {cls} | {what} | `{esc(cmd)}` | {rc} | {esc(msg)} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--collemu", required=True)
    ap.add_argument("--update", metavar="PAGE")
    ap.add_argument("--check", metavar="PAGE")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        make_inputs(a.collemu, tmp)
        results = [run_case(a.collemu, tmp, c[2]) for c in CASES]
    md = table(results)
    begin, end = "<!-- table: begin -->\n", "<!-- table: end -->"
    if a.update:
        text = open(a.update).read()
        head, rest = text.split(begin, 1)
        out = head + begin + md + end + rest.split(end, 1)[1]
        with open(a.update + ".tmp", "w") as f:
            f.write(out)
        os.replace(a.update + ".tmp", a.update)
    if a.check:
        failures = []
        for (cls, what, args, want), (rc, msg) in zip(CASES, results):
            if rc != 2:
                failures.append(f"{what}: exit {rc} (expected 2: a user error), said: {msg}")
            elif len(msg) > 1000:
                failures.append(f"{what}: a message of {len(msg)} characters (a quoted value not shortened?)")
            elif want not in msg:
                failures.append(f"{what}: said '{msg}', expected it to contain '{want}'")
        page = open(a.check).read()
        if md not in page:
            failures.append(f"{a.check}: its table is not what collemu says now (bad_inputs.py --update {a.check})")
        for f in failures:
            print("FAIL", f)
        print(f"{len(CASES)} bad inputs, {len(failures)} failures")
        sys.exit(1 if failures else 0)
    if not a.update:
        sys.stdout.write(md)


if __name__ == "__main__":
    main()
