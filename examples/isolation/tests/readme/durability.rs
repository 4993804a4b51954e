use stress_core::prelude::*;

/// One tracked write, on any engine of the SQL layer: the key, then the commit, then the
/// acknowledgement.
fn insert<A: Adapter>(u: &mut User<A>) -> OpResult
where
    A::Conn: SqlConn,
{
    let k = u.begin_write();
    u.conn().in_transaction(Isolation::Serializable, |tx| {
        tx.execute("INSERT INTO kv (k) VALUES ($1)", &[Value::BigInt(k)])?;
        tx.execute("INSERT INTO kv_log (k) VALUES ($1)", &[Value::BigInt(k)])
    })?;
    u.acknowledge_write(k);
    Ok(Outcome::rows(2))
}

/// 4 writers whose every write the checker tracks; the keys read back after the run.
pub fn tracked<A: Adapter>(adapter: A) -> Workload<A>
where
    A::Conn: SqlConn,
{
    Workload::new(adapter)
        .setup(|db: &mut A::Conn, _| {
            db.batch("CREATE TABLE kv (k BIGINT PRIMARY KEY); CREATE TABLE kv_log (k BIGINT PRIMARY KEY)")
        })
        .class(UserClass::new("writer", 4).write("insert", 1.0, insert::<A>))
        .durability(|db: &mut A::Conn, seen| {
            for row in db.query("SELECT k FROM kv", &[])? {
                if let Some(Value::BigInt(k)) = row.first() {
                    seen(*k);
                }
            }
            Ok(())
        })
}
