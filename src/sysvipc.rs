//! System V message queues as the kernel lists them in /proc/sysvipc/msg
//! (what `ipcs -q` reads): enough to tell one queue from another.

/// One message queue of the caller's IPC namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgQueueInfo {
    pub key: i32,
    pub id: i32,
    /// Who created it (`cuid`).
    pub creator_uid: u32,
    /// When it was created or last changed with msgctl (`ctime`).
    pub ctime: u64,
}

/// Every message queue this process can see.
pub fn msg_queues() -> Vec<MsgQueueInfo> {
    parse(&std::fs::read_to_string("/proc/sysvipc/msg").unwrap_or_default())
}

/// Read the table by its header, so that columns added by a newer kernel
/// do not shift what is read.
pub fn parse(table: &str) -> Vec<MsgQueueInfo> {
    let mut lines = table.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let header: Vec<&str> = header.split_whitespace().collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (Some(key), Some(id), Some(cuid), Some(ctime)) =
        (col("key"), col("msqid"), col("cuid"), col("ctime"))
    else {
        return Vec::new();
    };
    lines
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            Some(MsgQueueInfo {
                key: f.get(key)?.parse().ok()?,
                id: f.get(id)?.parse().ok()?,
                creator_uid: f.get(cuid)?.parse().ok()?,
                ctime: f.get(ctime)?.parse().ok()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_found_by_name() {
        let table = "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n1280513588          3   600           0          0     0     0     0     0     0     0          0          0 1764484327\n        -5          7   644           0          0     0     0  1000  1000  1000  1000          0          0 1764484400\n";
        assert_eq!(
            parse(table),
            vec![
                MsgQueueInfo {
                    key: 1280513588,
                    id: 3,
                    creator_uid: 0,
                    ctime: 1764484327
                },
                MsgQueueInfo {
                    key: -5,
                    id: 7,
                    creator_uid: 1000,
                    ctime: 1764484400
                }
            ]
        );
        assert!(parse("").is_empty());
        assert!(parse("key msqid\n1 2\n").is_empty());
    }
}
