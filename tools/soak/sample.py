#!/usr/bin/env python3
"""Samples a process's memory split every INTERVAL s: RSS, HWM, threads, fds, and from smaps the GC heap
(mappings inside the .NET GC reserved range: the largest anonymous reservations), the C heap ([heap] and
64 MiB-aligned arena mappings) and large anonymous mmaps (>= 1 MiB, outside both): ONNX Runtime run memory."""
import os, sys, time
pid = int(sys.argv[1]); interval = float(sys.argv[2]); out = open(sys.argv[3], 'w')
def status():
    d = {}
    for line in open(f'/proc/{pid}/status'):
        k, v = line.split(':', 1); d[k] = v.strip()
    return d
def split():
    gc = cheap = big = 0
    cur = None
    regions = []
    for line in open(f'/proc/{pid}/smaps'):
        parts = line.split()
        if '-' in parts[0] and len(parts) >= 5 and not parts[0].endswith(':'):
            a, b = (int(x, 16) for x in parts[0].split('-'))
            name = parts[5] if len(parts) > 5 else ''
            cur = [a, b, name, 0]; regions.append(cur)
        elif parts[0] == 'Rss:' and cur is not None:
            cur[3] = int(parts[1])
    # .NET GC regions live in one huge reservation (256 GiB by default): take anonymous mappings inside the largest
    # contiguous reserved span, found as the address range whose mappings are mostly PROT_NONE; approximate by size.
    for a, b, name, rss in regions:
        size = b - a
        if name == '[heap]': cheap += rss; continue
        if name: continue
        if a % (64 << 20) == 0 and size <= (64 << 20): cheap += rss; continue
        if GC_LO <= a < GC_HI: gc += rss; continue
        if size >= (1 << 20): big += rss
    return gc // 1024, cheap // 1024, big // 1024
# Find the GC range: the largest anonymous mapping span (reservation) at start.
GC_LO = GC_HI = 0
best = 0
for line in open(f'/proc/{pid}/maps'):
    p = line.split()
    a, b = (int(x, 16) for x in p[0].split('-'))
    if len(p) < 6 and b - a > best:
        best = b - a; GC_LO, GC_HI = a, b
t0 = time.time()
out.write('s,rss_mib,hwm_mib,threads,fds,gc_mib,cheap_mib,ortmmap_mib\n')
while os.path.exists(f'/proc/{pid}'):
    try:
        st = status(); fds = len(os.listdir(f'/proc/{pid}/fd')); g, c, b = split()
        out.write(f"{time.time()-t0:.0f},{int(st['VmRSS'].split()[0])//1024},{int(st['VmHWM'].split()[0])//1024},{st['Threads']},{fds},{g},{c},{b}\n"); out.flush()
    except (FileNotFoundError, ProcessLookupError):
        break
    time.sleep(interval)
