"""The world as a graph: build it, analyse it (blast radius, exposure, escalation paths), draw and export it."""

from nhisim.world.analysis import (
    BlastRadius,
    Exposure,
    Hop,
    Path,
    PrincipalExposure,
    ReachedOperation,
    all_blast_radii,
    blast_radius,
    escalation_paths,
    exposure,
)
from nhisim.world.export import draw, to_graphml, to_opengraph, write_opengraph
from nhisim.world.graph import (
    EDGE_TYPES,
    NODE_TYPES,
    CredentialDescriptor,
    build_graph,
    node_id,
    standing_credentials,
)

__all__ = [
    "EDGE_TYPES",
    "NODE_TYPES",
    "BlastRadius",
    "CredentialDescriptor",
    "Exposure",
    "Hop",
    "Path",
    "PrincipalExposure",
    "ReachedOperation",
    "all_blast_radii",
    "blast_radius",
    "build_graph",
    "draw",
    "escalation_paths",
    "exposure",
    "node_id",
    "standing_credentials",
    "to_graphml",
    "to_opengraph",
    "write_opengraph",
]
