"""API Gateway: the serving stack's predictions API on 127.0.0.1."""
