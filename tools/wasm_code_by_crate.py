"""Code bytes of a wasm module by crate: function bodies summed by the crate their name (from
the module's name section) mentions first. Run it on wasm-bindgen output made without
--remove-name-section. Usage: python3 tools/wasm_code_by_crate.py FILE.wasm [TOP_N]
(BENCHMARKS.md, "What the browser downloads")."""
import sys, re, collections
data=open(sys.argv[1],'rb').read()
def leb(b,i):
    r=0;s=0
    while True:
        x=b[i];i+=1;r|=(x&0x7f)<<s;s+=7
        if x<0x80: return r,i
i=8; nimp=0; bodies=[]; names={}; datasize=0
while i<len(data):
    sid=data[i];i+=1; sz,i=leb(data,i); end=i+sz
    if sid==2:
        n,j=leb(data,i)
        for _ in range(n):
            l,j=leb(data,j); j+=l; l,j=leb(data,j); j+=l
            k=data[j]; j+=1
            if k==0: _,j=leb(data,j); nimp+=1
            elif k==1: j+=1; f=data[j]; j+=1; _,j=leb(data,j); 
            elif k==2: f=data[j]; j+=1; _,j=leb(data,j); 
            elif k==3: j+=2
            if k==1 and f&1: _,j=leb(data,j)
            if k==2 and f&1: _,j=leb(data,j)
    elif sid==10:
        n,j=leb(data,i)
        for _ in range(n):
            l,j2=leb(data,j); bodies.append(j2-j+l); j=j2+l
    elif sid==11: datasize+=sz
    elif sid==0:
        l,j=leb(data,i); nm=data[j:j+l].decode(); j+=l
        if nm=='name':
            while j<end:
                sub=data[j]; j+=1; ssz,j=leb(data,j); send=j+ssz
                if sub==1:
                    n,k=leb(data,j)
                    for _ in range(n):
                        idx,k=leb(data,k); l,k=leb(data,k); names[idx]=data[k:k+l].decode('utf8','replace'); k+=l
                j=send
    i=end
print("code bytes", sum(bodies), "data", datasize, "funcs", len(bodies))
agg=collections.Counter(); top=[]
pat=sys.argv[2:] 
for fi,b in enumerate(bodies):
    nm=names.get(fi+nimp,'?')
    top.append((b,nm))
    key='other'
    for p in ['serde_json','serde_core','serde','flt2dec','dec2flt','fmt','leptos','reactive_graph','tachys','hashbrown','indexmap','alloc','switchboard_widget','switchboard_protocol','wasm_bindgen','js_sys','web_sys','futures','gloo','core','std','dlmalloc','send_wrapper','or_poisoned','any_spawner','throw_error','guardian']:
        if p in nm: key=p; break
    agg[key]+=b
for k,v in agg.most_common(): print(f"{v:8d} {k}")
top.sort(reverse=True)
for b,nm in top[:int(pat[0]) if pat else 30]: print(b, nm[:150])
