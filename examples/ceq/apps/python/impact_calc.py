# impact_calc.py: sends the $200,000 tree-planting grant for HWY-94 through its sidecar.
import svcmesh as mesh

mesh.init(service="impact-calc", version="v1")  # registers over mTLS; deregisters at exit


def send_grant(project_id, amount):
    client = mesh.client("grant-pay")  # service discovery by name, via the sidecar
    payload = {"project": project_id, "usd": amount}
    res = client.post("/payout", json=payload, timeout=2)
    print("Status:", res.status_code, "Trace:", res.headers["x-trace"])
    if res.mesh_error:  # the mesh answered, not grant-pay: circuit open, timeout, denied...
        print("Mesh:", type(res.mesh_error).__name__, res.mesh_error)


if __name__ == "__main__":
    send_grant("HWY-94", 200_000)
