"""eks-controlplane: an asyncio control plane for fleets of Amazon EKS clusters.

Run it with ``controlplane serve`` (see ``controlplane.service``); the model lives in
``controlplane.api``; everything else is an internal layer (see DESIGN.md).
"""

__version__ = "0.1.0"
