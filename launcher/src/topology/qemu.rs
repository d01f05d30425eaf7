//! How QEMU is told a shape. QEMU 7.2 (Debian 12) under TCG with its default CPU model
//! shares the L3 among a socket's CPUs and not per die, so each LLC is a socket; NUMA
//! nodes group whole sockets, each with an equal share of the memory.

use super::Shape;

/// `-smp`, and for more than one node the memory backends, `-numa node` and distances.
pub fn args(shape: &Shape, memory_mib: u32) -> Vec<String> {
    let mut args = vec![
        "-smp".to_string(),
        format!(
            "{},sockets={},cores={},threads={}",
            shape.vcpus(),
            shape.llcs,
            shape.cores_per_llc,
            shape.threads_per_core
        ),
    ];
    if shape.nodes == 1 {
        return args;
    }
    let per_node_cpus = shape.vcpus() / shape.nodes;
    for node in 0..shape.nodes {
        let first = node * per_node_cpus;
        let share = memory_mib / shape.nodes;
        let size = if node + 1 == shape.nodes {
            memory_mib - share * (shape.nodes - 1)
        } else {
            share
        };
        args.push("-object".into());
        args.push(format!("memory-backend-ram,id=node{node},size={size}M"));
        args.push("-numa".into());
        args.push(format!(
            "node,nodeid={node},cpus={first}-{},memdev=node{node}",
            first + per_node_cpus - 1
        ));
    }
    for a in 0..shape.nodes {
        for b in (0..shape.nodes).filter(|&b| b != a) {
            args.push("-numa".into());
            args.push(format!("dist,src={a},dst={b},val={}", shape.distance(a, b)));
        }
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_machines_are_one_socket() {
        assert_eq!(
            args(&Shape::flat(4), 256),
            ["-smp", "4,sockets=1,cores=4,threads=1"]
        );
    }

    #[test]
    fn each_llc_is_a_socket_and_nodes_group_sockets() {
        let a = args(&Shape::parse("2n4l1c2t").unwrap(), 511);
        let joined = a.join(" ");
        assert!(
            joined.starts_with("-smp 8,sockets=4,cores=1,threads=2 "),
            "{joined}"
        );
        assert!(joined.contains("-object memory-backend-ram,id=node0,size=255M"));
        assert!(joined.contains("-object memory-backend-ram,id=node1,size=256M"));
        assert!(joined.contains("-numa node,nodeid=0,cpus=0-3,memdev=node0"));
        assert!(joined.contains("-numa node,nodeid=1,cpus=4-7,memdev=node1"));
        assert!(joined.contains("-numa dist,src=0,dst=1,val=20"));
        assert!(joined.contains("-numa dist,src=1,dst=0,val=20"));
    }
}
