#!/usr/bin/python3
# Benchmark (not a test; make check never runs it): online cache policies from
# the literature, beside LRU, LFU and Belady, on the .trace files, to see
# whether any online policy comes within 1.5x of Belady's reads (issue 12).
# A model of its own (Python, numpy), not the runtime's code: one global cache
# of C = FRAC x pairs (layer, expert) slots, tokens in order, layers in order,
# the running layer's experts pinned, every miss a read (cold ones counted), as
# moetier replay runs its policies (docs/policies.md).
#   /usr/bin/python3 tests/bench/online_policies.py TOKENS FRAC[,FRAC...] POLICY[,POLICY...] TRACE...
# Policies: lru, lfu (counts kept after eviction), arc (Megiddo and Modha,
# FAST'03), s3 and s3_25 (S3-FIFO, Yang et al., SOSP'23, small queue 10% and
# 25%), phase (the layers until the pair's layer comes round plus a geometric
# wait at its use rate: replay's reuse), phasegate (phase, a miss admitted only
# if used at least as often as its victim), phasegap (phase with each pair's
# mean gap between uses less the time waited). Prints misses / Belady's.
import sys, numpy as np
from collections import OrderedDict
def load(path, ntok):
    rows=[]
    with open(path) as f:
        hdr=dict(w.split('=',1) for w in f.readline().split() if '=' in w)  # the trace's shape
        for line in f:
            if line.startswith('#'): continue
            rows.append([[int(x) for x in g.split(',')] for g in line.split()])
            if len(rows)>=ntok: break
    L=len(rows[0]); E=int(hdr['experts'])
    return rows,L,E
def accesses(rows,L,E):
    acc=[]  # (t, layer, pair)
    for t,r in enumerate(rows):
        for l,g in enumerate(r):
            for e in g: acc.append((t,l,l*E+e))
    return acc
def run(rows,L,E,C,pol):
    acc=accesses(rows,L,E); P=L*E
    res=np.zeros(P,bool); n=0; miss=0; i=0
    pol.init(P,L,E,C,acc)
    while i<len(acc):
        t,l,_=acc[i]; j=i
        while j<len(acc) and acc[j][0]==t and acc[j][1]==l: j+=1
        layer=[a[2] for a in acc[i:j]]
        pin=set(layer)
        for k in range(i,j):
            s=acc[k][2]
            pol.access(k,t,l,s,res[s])
            if res[s]: continue
            miss+=1
            if n<C:
                if pol.admit_free(s): res[s]=True; n+=1; pol.inserted(s)
                continue
            v=pol.victim(res,pin,k,t,l)
            if v is None or not pol.admit(s,v): pol.bypass(s); continue
            res[v]=False; pol.evicted(v); res[s]=True; pol.inserted(s)
        i=j
    return miss
class Base:
    def init(s,P,L,E,C,acc): s.P,s.L,s.E,s.C=P,L,E,C; s.last=np.full(P,-1.0); s.cnt=np.zeros(P)
    def access(s,k,t,l,slot,hit): s.last[slot]=k; s.cnt[slot]+=1
    def admit_free(s,slot): return True
    def admit(s,slot,v): return True
    def inserted(s,slot): pass
    def evicted(s,slot): pass
    def bypass(s,slot): pass
    def pick_min(s,score,res,pin):
        sc=np.where(res,score,np.inf)
        for p in pin: sc[p]=np.inf
        v=int(np.argmin(sc)); return None if not np.isfinite(sc[v]) else v
class LRU(Base):
    def victim(s,res,pin,k,t,l): return s.pick_min(s.last,res,pin)
class LFU(Base):
    def victim(s,res,pin,k,t,l): return s.pick_min(s.cnt*1e9+s.last,res,pin)
class Belady(Base):
    def init(s,P,L,E,C,acc):
        super().init(P,L,E,C,acc); s.nxt=np.full(len(acc),1e18); lastk={}
        for k in range(len(acc)-1,-1,-1):
            p=acc[k][2]; s.nxt[k]=lastk.get(p,1e18); lastk[p]=k
        s.nu=np.full(P,1e18)
    def access(s,k,t,l,slot,hit): super().access(k,t,l,slot,hit); s.nu[slot]=s.nxt[k]
    def victim(s,res,pin,k,t,l): return s.pick_min(-s.nu,res,pin)
class Phase(Base):
    """expected next use: layers until its layer comes round + L * expected tokens to wait (decayed rate)"""
    def __init__(s,hl=0,gate=False,mode='geo'): s.hl=hl; s.gate=gate; s.mode=mode
    def init(s,P,L,E,C,acc):
        super().init(P,L,E,C,acc); s.w=np.zeros(P); s.tok=0; s.lasttok=np.full(P,-1.0); s.first=np.full(P,-1.0)
        s.gap=np.zeros(P); s.ng=np.zeros(P)
    def access(s,k,t,l,slot,hit):
        super().access(k,t,l,slot,hit)
        if s.lasttok[slot]>=0 and t>s.lasttok[slot]:
            g=t-s.lasttok[slot]; s.gap[slot]+=g; s.ng[slot]+=1
        if s.first[slot]<0: s.first[slot]=t
        s.lasttok[slot]=t; s.tok=t
    def est(s,t,l):
        lay=np.arange(s.P)//s.E
        d=(lay-l)%s.L; d=np.where(d==0,s.L,d)   # steps till its layer comes round (this layer: next token)
        # token of the next chance: this token if layer ahead, else next token
        age=np.maximum(t-s.first,1)+1
        if s.mode=='geo':
            rate=(s.cnt+0.5)/(age+1)
            wait=(1-rate)/rate
        else: # mean gap minus time already waited
            mg=np.where(s.ng>0,s.gap/np.maximum(s.ng,1),age)
            since=t-s.lasttok
            wait=np.maximum(mg-since,0.0)+ (s.ng==0)*age
        return d+s.L*wait
    def victim(s,res,pin,k,t,l): return s.pick_min(-s.est(t,l),res,pin)
    def admit(s,slot,v):
        if not s.gate: return True
        return s.cnt[slot]>=s.cnt[v]
class ARC(Base):
    def init(s,P,L,E,C,acc):
        super().init(P,L,E,C,acc); s.T1=OrderedDict(); s.T2=OrderedDict(); s.B1=OrderedDict(); s.B2=OrderedDict(); s.p=0
    def access(s,k,t,l,slot,hit):
        super().access(k,t,l,slot,hit)
        if hit:
            if slot in s.T1: del s.T1[slot]
            else: s.T2.pop(slot,None)
            s.T2[slot]=1
        else:
            if slot in s.B1: s.p=min(s.C,s.p+max(len(s.B2)/max(len(s.B1),1),1)); del s.B1[slot]; s.pend=2
            elif slot in s.B2: s.p=max(0,s.p-max(len(s.B1)/max(len(s.B2),1),1)); del s.B2[slot]; s.pend=2
            else: s.pend=1
    def inserted(s,slot):
        (s.T2 if s.pend==2 else s.T1)[slot]=1
    def victim(s,res,pin,k,t,l):
        first = s.T1 if (len(s.T1)>0 and (len(s.T1)>s.p)) else s.T2
        for lst,ghost in ((first, s.B1 if first is s.T1 else s.B2),(s.T2 if first is s.T1 else s.T1, s.B2 if first is s.T1 else s.B1)):
            for v in lst:
                if v not in pin:
                    del lst[v]; ghost[v]=1
                    while len(s.B1)+len(s.B2)>s.C:
                        (s.B1 if len(s.B1)>len(s.B2) else s.B2).popitem(last=False)
                    return v
        return None
class S3(Base):
    def init(s,P,L,E,C,acc):
        super().init(P,L,E,C,acc); s.S=OrderedDict(); s.M=OrderedDict(); s.G=OrderedDict(); s.f=np.zeros(P,int); s.ssz=max(1,int(C*s.frac))
    def __init__(s,frac=0.1): s.frac=frac
    def access(s,k,t,l,slot,hit):
        super().access(k,t,l,slot,hit)
        if hit: s.f[slot]=min(3,s.f[slot]+1)
        else: s.ing = slot in s.G; s.G.pop(slot,None)
    def inserted(s,slot):
        s.f[slot]=0
        (s.M if s.ing else s.S)[slot]=1
    def victim(s,res,pin,k,t,l):
        for _ in range(4*s.C+10):
            if len(s.S)>=s.ssz or not s.M:
                v,_=next(iter(s.S.items())) if s.S else (None,0)
                if v is None: break
                del s.S[v]
                if v in pin: s.S[v]=1; continue
                if s.f[v]>0: s.M[v]=1; s.f[v]=0; continue
                s.G[v]=1
                if len(s.G)>s.C: s.G.popitem(last=False)
                return v
            else:
                v,_=next(iter(s.M.items())); del s.M[v]
                if v in pin or s.f[v]>0: s.f[v]=max(0,s.f[v]-1); s.M[v]=1; continue
                return v
        return None
if __name__=='__main__':
    ntok=int(sys.argv[1]); fracs=[float(x) for x in sys.argv[2].split(',')]; names=sys.argv[3].split(','); traces=sys.argv[4:]
    mk={'lru':LRU,'lfu':LFU,'belady':Belady,'phase':Phase,'phasegate':lambda:Phase(gate=True),'phasegap':lambda:Phase(mode='gap'),'arc':ARC,'s3':S3,'s3_25':lambda:S3(0.25)}
    for tr in traces:
        rows,L,E=load(tr,ntok)
        for fr in fracs:
            C=int(fr*L*E); b=run(rows,L,E,C,Belady())
            out=[f"{tr.split('/')[-1][:-6]} C={C} belady={b}"]
            for nm in names:
                m=run(rows,L,E,C,mk[nm]()); out.append(f"{nm}={m/b:.3f}")
            print(' '.join(out),flush=True)
