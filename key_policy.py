"""What a key may do besides spend (docs/channels.md): the models it may use and the networks it may
call from. Its spend budget is held with the balance, in the same transaction (money.hold)."""
import ipaddress

from errors import ApiError


def allows_model(key, requested, provider, model):
    """Whether the key may use `requested` (a name the caller sent) for `provider`/`model`: its
    list may name either, or the target as `provider/model`."""
    allowed = key.model_list
    return not allowed or not {requested, model, f"{provider}/{model}"}.isdisjoint(allowed)


def check_model(key, requested, provider, model):
    if not allows_model(key, requested, provider, model):
        raise ApiError(403, "model_not_allowed",
                       f"This key may not use the model '{requested}'; it may use: "
                       f"{', '.join(key.model_list)}.", param="model")


def check_address(key, address):
    if key.ips and not within(address, key.network_list):
        raise ApiError(403, "ip_not_allowed",
                       f"This key may not be used from {address}: its owner allowed other networks.")


def trusted_proxies(text):
    """FORWARDED_ALLOW_IPS (as gunicorn reads it): '*', or addresses and networks, comma-separated."""
    if text.strip() == "*":
        return "*"
    return tuple(ipaddress.ip_network(part.strip(), strict=False)
                 for part in text.split(",") if part.strip())


def caller_address(peer, forwarded_for, proxies):
    """The caller's address: the peer's, unless the peer is a trusted proxy; then the nearest
    address of X-Forwarded-For that is not one (a proxy appends who called it, on the right)."""
    hops = [peer] + [hop.strip() for hop in reversed((forwarded_for or "").split(",")) if hop.strip()]
    for hop in hops:
        if not (proxies == "*" or within(hop, proxies)):
            return hop
    return hops[-1]


def within(address, networks):
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network, strict=False) for network in networks)
