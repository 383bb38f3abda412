# grant_pay.py: pays the grant; the sidecar in front of it handles TLS & auth.
import os

import flask
import svcmesh as mesh

app = flask.Flask(__name__)
me = mesh.init(service="grant-pay", version=os.environ.get("VERSION", "v2"))
mesh.flask.instrument(app)  # the caller's trace id follows the request


@app.route("/payout", methods=["POST"])
def payout():
    req = flask.request.get_json()
    print(f"[ACH] paying ${req['usd']} for {req['project']} (caller {mesh.context()['caller']}, trace {mesh.trace()})")
    return {"ok": True}, 202


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=me.port)  # sidecar handles TLS & auth
