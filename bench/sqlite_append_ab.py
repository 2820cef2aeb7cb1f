"""The embedded store's append, statement for statement, with and without the FTS5 search
triggers, one append per transaction and 16 per transaction (group commit): CPU per append.

Usage: python3 bench/sqlite_append_ab.py DB SCRATCH
  DB: a switchboard.db the relay created (its schema is copied; start a release relay with
      --data-dir D for a second and use D/switchboard.db); SCRATCH: a file path to write to.
Python's sqlite3 may predate FTS5's contentless_delete (3.43); the option is dropped then.
"""
import sqlite3, time, os, sys, resource
src = sqlite3.connect(sys.argv[1])
rows = src.execute("select type, name, sql from sqlite_master where sql is not null and name not like 'search_text_%' and name not like 'sqlite_%'").fetchall()
def make(path, triggers):
    for f in [path, path+'-wal', path+'-shm']:
        if os.path.exists(f): os.remove(f)
    c = sqlite3.connect(path, isolation_level=None)
    c.execute('pragma journal_mode=wal'); c.execute('pragma synchronous=normal'); c.execute('pragma wal_autocheckpoint=0')
    tables = [r for r in rows if r[0]=='table']; rest = [r for r in rows if r[0]!='table']
    for t,n,sql in tables + rest:
        if t=='trigger' and not triggers: continue
        c.execute(sql.replace('contentless_delete = 1,', ''))
    c.execute("insert into visitors(id,site,token_hash,context,created_at) values('v','s','h','{}',0)")
    for i in range(2000):
        c.execute("insert into conversations(id,site,visitor_id,created_at,last_activity) values(?,?,?,?,?)", (f'c{i}','s','v',0,0))
    return c
def run(triggers, batch, n=20000):
    c = make(sys.argv[2], triggers)
    seqs = [0]*2000
    t0 = time.process_time(); r0 = resource.getrusage(resource.RUSAGE_SELF)
    i = 0
    while i < n:
        c.execute('begin immediate')
        for _ in range(batch):
            conv = i % 2000
            c.execute('savepoint s')
            cur = c.execute('select last_seq, owner, status, unanswered, blocked from conversations where id=?', (f'c{conv}',)).fetchone()
            c.execute('select conversation_id from messages where conversation_id=? and sender_id=? and client_id=?', (f'c{conv}','v',f'x{i}')).fetchone()
            seq = cur[0]+1
            c.execute("insert into messages(conversation_id,seq,client_id,sender_kind,sender_id,sender_name,text,at) values(?,?,?,?,?,?,?,?)", (f'c{conv}',seq,f'x{i}','visitor','v',None,f'{time.time_ns()} hello there how are you today',0))
            c.execute('update conversations set last_seq=?, last_activity=?, last_sender=?, last_text=? where id=?', (seq,0,'visitor','hello',f'c{conv}'))
            c.execute('release s')
            i += 1
        c.execute('commit')
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    us = ((r1.ru_utime-r0.ru_utime)+(r1.ru_stime-r0.ru_stime))*1e6/n
    print(f'triggers={triggers} batch={batch}: {us:.1f} us CPU per append (user {(r1.ru_utime-r0.ru_utime)*1e6/n:.1f}, sys {(r1.ru_stime-r0.ru_stime)*1e6/n:.1f})', flush=True)
for b in [1, 16]:
    for t in [True, False]:
        run(t, b)
