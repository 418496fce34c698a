"""A local two-node Ray cluster on loopback for the executor tests."""

from __future__ import annotations

from contextlib import contextmanager

SLOTS = {"patchmix_container": 2}
"""Each node's slots for containers (the executor's custom resource)."""


@contextmanager
def run_local_cluster():
    """A head and one more node, each with one CPU and SLOTS, both on 127.0.0.1; ray is connected to it."""
    import ray
    import ray._private.services as services
    from ray.cluster_utils import Cluster

    services.get_node_ip_address = lambda address=None: "127.0.0.1"  # the whole cluster stays on loopback
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "resources": SLOTS,
                                                             "node_ip_address": "127.0.0.1"})
    cluster.add_node(num_cpus=1, resources=SLOTS, node_ip_address="127.0.0.1")
    ray.init(address=cluster.address, namespace="patchmix-test", log_to_driver=False)
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()
