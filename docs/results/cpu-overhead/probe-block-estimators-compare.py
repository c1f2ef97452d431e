import json, math, statistics, sys
from statistics import NormalDist
def t_ci(x):
    from scipy import stats
    n=len(x); m=statistics.mean(x); se=statistics.stdev(x)/math.sqrt(n); t=stats.t.ppf(.975,n-1); return m, m-t*se, m+t*se
def hl_ci(x):
    n=len(x); w=sorted((x[i]+x[j])/2 for i in range(n) for j in range(i,n)); N=len(w)
    z=NormalDist().inv_cdf(.975); k=int(math.floor(N/2 - z*math.sqrt(n*(n+1)*(2*n+1)/24)))
    return statistics.median(w), w[max(k,0)], w[N-1-max(k,0)]
def trimmed(x, p=0.1):
    x=sorted(x); k=int(len(x)*p); return statistics.mean(x[k:len(x)-k])
pc=lambda v:100*(math.exp(v)-1)
for f in sys.argv[1:]:
    x=json.load(open(f)); 
    m,l,h=t_ci(x); a,b,c=hl_ci(x)
    q=sorted(x); n=len(q)
    print(f"{f.split('/')[-1]:24s} n={n:4d} sd {100*statistics.stdev(x):5.2f} %  mean {pc(m):+.2f} ({pc(l):+.2f} … {pc(h):+.2f})  HL {pc(a):+.2f} ({pc(b):+.2f} … {pc(c):+.2f})  median {pc(statistics.median(x)):+.2f}  10%-trimmed {pc(trimmed(x)):+.2f}  kurtosis-ish p5/p95 {pc(q[n//20]):+.1f}/{pc(q[19*n//20]):+.1f}")
