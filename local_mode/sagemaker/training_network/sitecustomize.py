"""The training cluster's network names for one instance's Python (local mode puts this folder on PYTHONPATH).

On SageMaker the instances of a training job reach each other by name ("algo-1", "algo-2", ...) on the cluster's
network ("How Amazon SageMaker AI Provides Training Information", Distributed Training Configuration). Here the
instances are processes on this machine: SCORELINE_TRAINING_HOSTS maps each name to its own loopback address, and
Python's name lookups resolve those names to them. Other names are looked up as before."""

import json
import os
import socket

_ADDRESSES = json.loads(os.environ.get("SCORELINE_TRAINING_HOSTS", "{}"))
_getaddrinfo, _gethostbyname = socket.getaddrinfo, socket.gethostbyname


def _getaddrinfo_by_instance_name(host, *args, **kwargs):
    return _getaddrinfo(_ADDRESSES.get(host, host), *args, **kwargs)


def _gethostbyname_by_instance_name(host):
    return _gethostbyname(_ADDRESSES.get(host, host))


socket.getaddrinfo = _getaddrinfo_by_instance_name
socket.gethostbyname = _gethostbyname_by_instance_name
