#!/usr/bin/env python3
"""Cold vs warm first action against a local TLS model service (issue 13).

    python3 bench/ttfb_tls.py target/release/codex-lsp [runs]      (RTT=0.05 by default)

A throwaway CA and certificate for 127.0.0.1 are made with the `openssl` command and
trusted through SSL_CERT_FILE. The service delays each new connection by two round
trips (TCP and TLS handshakes) and each answer by half of one. "warm": the connection
codex-lsp opens at start is kept; "cold": the service closes it after the warm-up, so
the action must connect again. Prints the time from `workspace/executeCommand` to its
answer (applied) for the first action, one second after start.
"""
import ssl, socket, threading, json, subprocess, os, sys, time, statistics, tempfile
TMP=tempfile.mkdtemp(prefix="codex-ttfb-")
def sh(*a): subprocess.run(a, check=True, capture_output=True, cwd=TMP)
sh("openssl","req","-x509","-newkey","rsa:2048","-nodes","-keyout","ca.key","-out","ca.pem","-days","2","-subj","/CN=codex-lsp bench ca",
   "-addext","basicConstraints=critical,CA:TRUE","-addext","keyUsage=critical,keyCertSign")
sh("openssl","req","-newkey","rsa:2048","-nodes","-keyout","leaf.key","-out","leaf.csr","-subj","/CN=127.0.0.1")
open(os.path.join(TMP,"ext.cnf"),"w").write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
sh("openssl","x509","-req","-in","leaf.csr","-CA","ca.pem","-CAkey","ca.key","-CAcreateserial","-out","leaf.pem","-days","2","-extfile","ext.cnf")
RTT=float(os.environ.get("RTT","0.05"))
def serve_conn(conn, close_after_head):
    try:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1); tls=ctx.wrap_socket(conn, server_side=True)
    except Exception: return
    buf=b""
    while True:
        while b"\r\n\r\n" not in buf:
            d=tls.recv(65536)
            if not d: return
            buf+=d
        head,_,rest=buf.partition(b"\r\n\r\n")
        lines=head.decode().split("\r\n"); method=lines[0].split()[0]
        n=0
        for l in lines[1:]:
            if l.lower().startswith("content-length:"): n=int(l.split(":")[1])
        while len(rest)<n:
            rest+=tls.recv(65536)
        buf=rest[n:]
        if method=="POST":
            time.sleep(RTT/2)  # the answer's half round trip
            body=json.dumps({"id":"resp_1","object":"response","status":"completed","model":"m","usage":{"input_tokens":1,"output_tokens":1,"total_tokens":2},
                "output":[{"type":"function_call","id":"fc_1","call_id":"call_1","name":"replace_selection","arguments":json.dumps({"code":"fn b() {}"}),"status":"completed"}]}).encode()
            tls.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"%len(body)+body)
        else:
            c=b"connection: close\r\n" if close_after_head else b""
            tls.sendall(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n"+c+b"\r\n")
            if close_after_head: tls.close(); return
ctx=ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(TMP+"/leaf.pem",TMP+"/leaf.key")
def server(port_holder, close_after_head):
    s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR,1); s.bind(("127.0.0.1",0)); s.listen(16)
    port_holder.append(s.getsockname()[1])
    while True:
        c,_=s.accept()
        time.sleep(RTT*2)  # TCP + TLS 1.3 handshake round trips
        threading.Thread(target=serve_conn,args=(c,close_after_head),daemon=True).start()
def frame(o):
    b=json.dumps(o).encode(); return b"Content-Length: %d\r\n\r\n"%len(b)+b
def one(bin, port):
    env=dict(os.environ, XDG_STATE_HOME=TMP+"/state%d"%time.time_ns(), CODEX_LSP_LOG="info", CODEX_LSP_BASE_URL="https://127.0.0.1:%d/v1"%port,
             CODEX_LSP_API_KEY="sk-proj-TTFBTEST0123456789abcdefT3BlbkFJxyz", SSL_CERT_FILE=TMP+"/ca.pem")
    p=subprocess.Popen([bin],stdin=subprocess.PIPE,stdout=subprocess.PIPE,stderr=subprocess.DEVNULL,env=env)
    def read():
        n=0
        while True:
            l=p.stdout.readline()
            if l in (b"\r\n",b""): break
            if l.lower().startswith(b"content-length"): n=int(l.split(b":")[1])
        return json.loads(p.stdout.read(n))
    def send(o): p.stdin.write(frame(o)); p.stdin.flush()
    def wait(i):
        while True:
            r=read()
            if r.get("id")==i and "method" not in r: return r
            if "method" in r and "id" in r:
                res={"applied":True} if r["method"]=="workspace/applyEdit" else None
                send({"jsonrpc":"2.0","id":r["id"],"result":res})
                if r["method"]=="workspace/applyEdit":
                    send({"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":uri,"version":2},"contentChanges":[{"text":"fn b() {}\n"}]}})
    uri="file://"+TMP+"/ws/a.rs"
    send({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":None,"rootUri":"file://"+TMP+"/ws","capabilities":{"workspace":{"applyEdit":True}},"initializationOptions":{"stream":False}}}); wait(1)
    send({"jsonrpc":"2.0","method":"initialized","params":{}})
    send({"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":uri,"languageId":"rust","version":1,"text":"fn a() {}\n"}}})
    time.sleep(1.0)  # the user reads the code
    t=time.perf_counter()
    send({"jsonrpc":"2.0","id":5,"method":"workspace/executeCommand","params":{"command":"codex.runAction","arguments":[{"uri":uri,"range":{"start":{"line":0,"character":0},"end":{"line":0,"character":9}},"action":"refactor"}]}})
    r=wait(5); dt=(time.perf_counter()-t)*1000
    assert r.get("result",{}).get("applied"), r
    send({"jsonrpc":"2.0","id":9,"method":"shutdown"}); wait(9); send({"jsonrpc":"2.0","method":"exit"}); p.wait()
    return dt
os.makedirs(TMP+"/ws",exist_ok=True)
bin=sys.argv[1]; n=int(sys.argv[2]) if len(sys.argv)>2 else 5
for label,close in (("warm (HEAD connection kept)",False),("cold (service closed it)",True)):
    ph=[]; threading.Thread(target=server,args=(ph,close),daemon=True).start()
    while not ph: time.sleep(0.01)
    ts=[one(bin,ph[0]) for _ in range(n)]
    print("%-30s first action p50 %.1f ms (min %.1f, max %.1f), simulated RTT %d ms"%(label,statistics.median(ts),min(ts),max(ts),RTT*1000))
