"""
Write side of the in-memory NetBox store: validation like NetBox's serializers and models, creation with
defaults, partial/full updates, cascades on delete and the change log. Private: mixed into
``store.NetBoxStore``.
"""

import contextlib
import ipaddress

from salt_ext.utils.netbox.model.render import (
    COUNTS,
    GENERIC_REFS,
    OBJECT_TYPE_ENDPOINT,
    api_path,
    ref_id,
    ui_path,
)
from salt_ext.utils.netbox.model.schema_meta import (
    BLANK_CHOICES,
    CONSTRAINTS,
    ENDPOINTS,
    MODEL_DEFAULTS,
    NULLABLE_CHOICES,
    PK_M2M,
    SLUG_M2M,
)
from salt_ext.utils.netbox.model.util import StoreError, check_string, copy_json, etag_of

#: (endpoint) -> fields unique on their own, with the model's verbose name for the message
_UNIQUE = {
    "tenancy.tenants": ("tenant", ("name", "slug")),
    "dcim.sites": ("site", ("name", "slug")),
    "dcim.regions": ("region", ("name", "slug")),
    "dcim.manufacturers": ("manufacturer", ("name", "slug")),
    "dcim.device-roles": ("device role", ("name", "slug")),
    "dcim.platforms": ("platform", ("name", "slug")),
    "extras.tags": ("tag", ("name", "slug")),
    "extras.custom-fields": ("custom field", ("name",)),
    "extras.config-contexts": ("config context", ("name",)),
    "ipam.vlan-groups": ("VLAN group", ("slug",)),
}

#: (endpoint) -> (constraint name, fields, case-insensitive first field)
_CONSTRAINTS = {
    "dcim.interfaces": [("dcim_interface_unique_device_name", ("device", "name"), False)],
    "dcim.interface-templates": [
        ("dcim_interfacetemplate_unique_device_type_name", ("device_type", "name"), False)
    ],
    "dcim.device-types": [
        ("dcim_devicetype_unique_manufacturer_model", ("manufacturer", "model"), False),
        ("dcim_devicetype_unique_manufacturer_slug", ("manufacturer", "slug"), False),
    ],
    "virtualization.interfaces": [
        (
            "virtualization_vminterface_unique_virtual_machine_name",
            ("virtual_machine", "name"),
            False,
        )
    ],
    "ipam.vlans": [
        ("ipam_vlan_unique_group_vid", ("group", "vid"), False),
        ("ipam_vlan_unique_group_name", ("group", "name"), False),
    ],
    "dcim.inventory-items": [
        ("dcim_inventoryitem_unique_device_parent_name", ("device", "parent", "name"), False)
    ],
}

#: defaults of fields a create leaves out, on every endpoint (per-model defaults: ``MODEL_DEFAULTS``;
#: others: None for nullable fields, else "" / [] / {} / False / 0 by type)
_DEFAULTS = {
    "enabled": True,
    "is_active": True,
    "color": "",
    "status": None,
}
_STATUS_DEFAULT = {
    "dcim.devices": "active",
    "dcim.sites": "active",
    "dcim.racks": "active",
    "dcim.cables": "connected",
    "dcim.inventory-items": "active",
    "ipam.prefixes": "active",
    "ipam.ip-addresses": "active",
    "ipam.vlans": "active",
    "virtualization.virtual-machines": "active",
    "dcim.locations": "active",
}
_CHOICE_DEFAULTS = {
    ("dcim.devices", "airflow"): None,
    ("extras.journal-entries", "kind"): "info",
    ("extras.custom-fields", "filter_logic"): "loose",
    ("extras.custom-fields", "ui_visible"): "always",
    ("extras.custom-fields", "ui_editable"): "yes",
    ("extras.custom-fields", "type"): "text",
}
#: read-only fields computed or defaulted on create
_RO_DEFAULTS = {
    "config_context": {},
    "tagged_items": 0,
    "data_path": "",
    "data_file": None,
    "data_synced": None,
    "total_vlan_ids": 4094,
    "utilization": "0.00",
}
#: fields that are deleted with the referenced object (CASCADE); other references are set to null
_CASCADE = {
    ("dcim.interfaces", "device"),
    ("dcim.inventory-items", "device"),
    ("dcim.interface-templates", "device_type"),
    ("virtualization.interfaces", "virtual_machine"),
    ("ipam.ip-addresses", "assigned_object"),
    ("dcim.mac-addresses", "assigned_object"),
    ("extras.journal-entries", "assigned_object"),
    ("ipam.services", "parent"),
    ("dcim.inventory-items", "parent"),
}
#: references that do not block a delete and are cleared instead (SET_NULL / m2m)
_SOFT = {
    ("dcim.devices", "primary_ip4"),
    ("dcim.devices", "primary_ip6"),
    ("dcim.devices", "oob_ip"),
    ("virtualization.virtual-machines", "primary_ip4"),
    ("virtualization.virtual-machines", "primary_ip6"),
    ("dcim.interfaces", "primary_mac_address"),
    ("virtualization.interfaces", "primary_mac_address"),
    ("dcim.interfaces", "lag"),
    ("dcim.interfaces", "parent"),
    ("dcim.interfaces", "bridge"),
    ("dcim.interfaces", "untagged_vlan"),
    ("dcim.interfaces", "tagged_vlans"),
    ("virtualization.interfaces", "untagged_vlan"),
    ("virtualization.interfaces", "parent"),
    ("virtualization.interfaces", "bridge"),
    ("ipam.services", "ipaddresses"),
    ("ipam.ip-addresses", "nat_inside"),
    ("core.object-changes", "changed_object"),
    ("dcim.inventory-items", "component"),
    ("dcim.devices", "tags"),
}
_APP_LABEL = {
    "dcim": "DCIM",
    "ipam": "IPAM",
    "extras": "Extras",
    "tenancy": "Tenancy",
    "core": "Core",
    "virtualization": "Virtualization",
}
_ACTION_LABEL = {"create": "Created", "update": "Updated", "delete": "Deleted"}
_ADMIN = {"id": 1, "url": "/api/users/users/1/", "display": "admin", "username": "admin"}


#: objects that hold primary/OOB addresses, and the type of their interfaces
_IP_PARENTS = (
    ("dcim.devices", "dcim.interface"),
    ("virtualization.virtual-machines", "virtualization.vminterface"),
)


def _msg_not_found_id(value):
    return f"Related object not found using the provided numeric ID: {value}"


class _Invalid(Exception):
    def __init__(self, errors):
        super().__init__(str(errors))
        self.errors = errors


class WriteMixin:
    """create / update / bulk_update / delete (needs the store's internals)."""

    # -- public API ----------------------------------------------------------------------------------
    def create(self, endpoint, data, base_url=None, user="admin", request_id=None):
        """Create one object (dict) or several (list, atomic): returns the representation(s)."""
        self._check_endpoint(endpoint)
        base = (base_url or self._stored_base).rstrip("/")
        request_id = request_id or self._new_request_id()
        with self._lock:
            items = data if isinstance(data, list) else [data]
            created = []
            errors = []
            with self._transaction():
                for item in items:
                    try:
                        obj = self._create_one(endpoint, item, user, request_id)
                    except _Invalid as err:
                        errors.append(err.errors)
                        continue
                    errors.append({})
                    created.append(obj)
                if any(errors):
                    raise _Invalid(errors if isinstance(data, list) else errors[0])
            memo = {}
            out = [self._represent(endpoint, o, base, False, None, (), memo) for o in created]
            return out if isinstance(data, list) else out[0]

    def update(
        self,
        endpoint,
        obj_id,
        data,
        partial=True,
        *,
        base_url=None,
        if_match=None,
        user="admin",
        request_id=None,
    ):
        """PATCH (``partial=True``) or PUT one object; ``if_match`` -> 412 when the ETag is stale."""
        self._check_endpoint(endpoint)
        base = (base_url or self._stored_base).rstrip("/")
        request_id = request_id or self._new_request_id()
        with self._lock:
            obj = self._get_raw(endpoint, obj_id)
            if if_match is not None:
                current = etag_of(obj.get("last_updated"))
                wanted = [t.strip() for t in str(if_match).split(",")]
                if current not in wanted and "*" not in wanted:
                    raise StoreError(412, {"detail": "Precondition failed."}, {"ETag": current})
            if not isinstance(data, dict):
                raise StoreError(
                    400,
                    {
                        "non_field_errors": [
                            f"Invalid data. Expected a dictionary, but got {_tname(data)}."
                        ]
                    },
                )
            with self._transaction():
                obj = self._update_one(endpoint, obj, data, partial, user, request_id)
            return self._represent(endpoint, obj, base, False, None, (), {})

    def bulk_update(
        self, endpoint, items, partial=True, *, base_url=None, user="admin", request_id=None
    ):
        """Bulk PATCH/PUT: a list of ``{"id": ..., field: value}`` (atomic)."""
        self._check_endpoint(endpoint)
        base = (base_url or self._stored_base).rstrip("/")
        request_id = request_id or self._new_request_id()
        if not isinstance(items, list):
            raise StoreError(
                400,
                {"non_field_errors": [f'Expected a list of items but got type "{_tname(items)}".']},
            )
        with self._lock:
            errors = [
                (
                    {"id": ["This field is required."]}
                    if not isinstance(item, dict) or item.get("id") in (None, "")
                    else {}
                )
                for item in items
            ]
            if any(errors):
                raise StoreError(400, errors)
            updated = []
            errors = []
            with self._transaction():
                for item in items:
                    obj = self._objs[endpoint].get(_as_int(item["id"]))
                    if obj is None:
                        model = ENDPOINTS[endpoint]["model"]
                        raise StoreError(404, {"detail": f"No {model} matches the given query."})
                    data = {k: v for k, v in item.items() if k != "id"}
                    try:
                        updated.append(
                            self._update_one(endpoint, obj, data, partial, user, request_id)
                        )
                        errors.append({})
                    except _Invalid as err:
                        errors.append(err.errors)
                if any(errors):
                    raise _Invalid(errors)
            memo = {}
            return [self._represent(endpoint, o, base, False, None, (), memo) for o in updated]

    def delete(self, endpoint, obj_id, user="admin", request_id=None, base_url=None):
        """Delete an object with NetBox's cascades (a device takes its interfaces, their IPs and MAC
        addresses, its inventory items, services and journal entries; a cable attached to a deleted
        interface stays, without that termination); protected references -> 409.
        """
        self._check_endpoint(endpoint)
        request_id = request_id or self._new_request_id()
        with self._lock:
            obj = self._get_raw(endpoint, obj_id)
            with self._transaction():
                self._delete_one(endpoint, obj, user, request_id, set())

    # -- transactions (writes are atomic) ------------------------------------------------------------
    @contextlib.contextmanager
    def _transaction(self):
        """Undo every object change of the block when it raises; validation errors (``_Invalid``)
        become ``StoreError(400)``."""
        if self._journal is not None:
            yield
            return
        self._journal = []
        saved_next = dict(self._next_id)
        try:
            yield
        except _Invalid as err:
            self._undo(saved_next)
            raise StoreError(400, err.errors) from None
        except BaseException:
            self._undo(saved_next)
            raise
        finally:
            self._journal = None

    def _undo(self, saved_next):
        touched = set()
        for endpoint, oid, old in reversed(self._journal):
            current = self._objs[endpoint].pop(oid, None)
            if current is not None:
                self._unindex(endpoint, current)
            if old is not None:
                self._objs[endpoint][oid] = old
                self._index(endpoint, old)
            touched.add(endpoint)
        self._next_id = saved_next
        if "ipam.prefixes" in touched:
            self._refresh_prefixes()
        self._invalidate()

    def _put(self, endpoint, new, old=None):
        """Store ``new`` (replacing ``old``), keeping indexes, caches and the undo journal right."""
        if self._journal is not None:
            self._journal.append((endpoint, new["id"], old))
        if old is not None:
            self._unindex(endpoint, old)
        self._objs[endpoint][new["id"]] = new
        self._index(endpoint, new)
        self._invalidate(endpoint, old, new)

    def _drop(self, endpoint, obj):
        if self._journal is not None:
            self._journal.append((endpoint, obj["id"], obj))
        self._unindex(endpoint, obj)
        del self._objs[endpoint][obj["id"]]
        self._invalidate(endpoint, obj, None)

    # -- create / update -----------------------------------------------------------------------------
    def _create_one(self, endpoint, data, user, request_id):
        if not isinstance(data, dict):
            raise _Invalid(
                {
                    "non_field_errors": [
                        f"Invalid data. Expected a dictionary, but got {_tname(data)}."
                    ]
                }
            )
        meta = ENDPOINTS[endpoint]
        values, errors = self._coerce(endpoint, data, None)
        for name in meta["required"]:
            if name not in data and name not in errors and not self._implied(endpoint, name, data):
                errors[name] = ["This field is required."]
        if errors:
            raise _Invalid(errors)
        oid = self._next_id[endpoint]
        obj = self._blank(endpoint, oid)
        obj.update(values)
        self._fill_custom_fields(endpoint, obj, data.get("custom_fields"))
        self._finish(endpoint, obj, None)
        now = self._now()
        if "created" in obj:
            obj["created"] = now
        if "last_updated" in obj:
            obj["last_updated"] = now
        self._next_id[endpoint] = oid + 1
        self._put(endpoint, obj)
        self._after_write(endpoint, obj, None)
        self._log(endpoint, "create", None, obj, user, request_id)
        self._after_create(endpoint, obj, user, request_id)
        return obj

    def _update_one(self, endpoint, obj, data, partial, user, request_id):  # noqa: PLR0917
        meta = ENDPOINTS[endpoint]
        values, errors = self._coerce(endpoint, data, obj)
        if not partial:
            for name in meta["required"]:
                if (
                    name not in data
                    and name not in errors
                    and not self._implied(endpoint, name, data)
                ):
                    errors[name] = ["This field is required."]
        if errors:
            raise _Invalid(errors)
        before = copy_json(obj)
        new = copy_json(obj)
        new.update(values)
        if "custom_fields" in data:
            merged = dict(obj.get("custom_fields") or {})
            merged.update(values.get("custom_fields") or {})
            new["custom_fields"] = merged
        self._finish(endpoint, new, obj)
        if "last_updated" in new:
            new["last_updated"] = self._now()
        self._put(endpoint, new, obj)
        self._after_write(endpoint, new, before)
        self._log(endpoint, "update", before, new, user, request_id)
        return new

    def _implied(self, endpoint, name, data):
        """Required fields a create can leave out because another field stands for them."""
        if endpoint == "extras.journal-entries" and name == "comments":
            return False
        return False

    def _blank(self, endpoint, oid):
        meta = ENDPOINTS[endpoint]
        obj = {}
        for name, spec in meta["fields"].items():
            kind = spec[0]
            if name == "id":
                obj[name] = oid
            elif name == "url":
                obj[name] = f"{self._stored_base}{api_path(endpoint)}{oid}/"
            elif name == "display_url":
                obj[name] = f"{self._stored_base}{ui_path(endpoint)}{oid}/"
            elif name in _RO_DEFAULTS:
                obj[name] = copy_json(_RO_DEFAULTS[name])
            elif (endpoint, name) in MODEL_DEFAULTS and kind == "choice":
                obj[name] = self._choice_value(spec[1], MODEL_DEFAULTS[(endpoint, name)])
            elif (endpoint, name) in MODEL_DEFAULTS:
                obj[name] = copy_json(MODEL_DEFAULTS[(endpoint, name)])
            elif kind == "fkm":
                obj[name] = []
            elif kind == "fk":
                obj[name] = None
            elif kind == "choice":
                default = _CHOICE_DEFAULTS.get((endpoint, name))
                if name == "status":
                    default = _STATUS_DEFAULT.get(endpoint)
                obj[name] = self._choice_value(spec[1], default) if default else None
            elif name in _DEFAULTS and _DEFAULTS[name] is not None:
                obj[name] = _DEFAULTS[name]
            else:
                ftype, nullable = spec[1], spec[2]
                if nullable or ftype in ("any", None):
                    obj[name] = None
                elif ftype == "string":
                    obj[name] = ""
                elif ftype == "array":
                    obj[name] = []
                elif ftype == "object":
                    obj[name] = {}
                elif ftype == "boolean":
                    obj[name] = False
                elif ftype in ("integer", "number"):
                    obj[name] = 0
                else:
                    obj[name] = None
        return obj

    @staticmethod
    def _choice_value(choices, value):
        if value is None or value == "":
            return None
        return {"value": value, "label": choices.get(value, value)}

    # -- coercion of request data --------------------------------------------------------------------
    def _coerce(self, endpoint, data, current):
        meta = ENDPOINTS[endpoint]
        fields = meta["fields"]
        writable = set(meta["writable"])
        values = {}
        errors = {}
        for name, value in data.items():
            if name not in writable:
                continue
            spec = fields.get(name)
            try:
                if name == "custom_fields":
                    values[name] = self._coerce_cf(endpoint, value)
                elif name == "tags" and (endpoint, name) not in SLUG_M2M:
                    values[name] = self._coerce_tags(value)
                elif spec is None:
                    values[name] = value
                elif spec[0] == "fk":
                    values[name] = self._coerce_ref(spec[1], value, nullable=spec[3])
                elif spec[0] == "fkm":
                    values[name] = self._coerce_m2m(endpoint, name, spec[1], value)
                elif spec[0] == "choice":
                    values[name] = self._coerce_choice(
                        spec[1],
                        value,
                        nullable=(endpoint, name) in NULLABLE_CHOICES,
                        blank=(endpoint, name) in NULLABLE_CHOICES | BLANK_CHOICES,
                    )
                else:
                    values[name] = self._coerce_scalar(name, spec[1], spec[2], value)
                    rules = CONSTRAINTS.get(endpoint, {}).get(name)
                    if rules is not None and isinstance(values[name], str):
                        values[name], messages = check_string(
                            values[name], rules, time_zone=name == "time_zone"
                        )
                        if messages:
                            raise _FieldError(*messages)
            except _FieldError as err:
                errors[name] = err.messages
        return values, errors

    def _coerce_ref(self, target, value, nullable):
        if value is None:
            if nullable:
                return None
            raise _FieldError("This field may not be null.")
        objs = self._objs.get(target, {})
        if isinstance(value, bool):
            raise _FieldError(
                "Related objects must be referenced by numeric ID or by dictionary of attributes. "
                f"Received an unrecognized value: {value}"
            )
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, int):
            if value not in objs:
                raise _FieldError(_msg_not_found_id(value))
            return {"id": value}
        if isinstance(value, dict):
            if "id" in value and value["id"] is not None:
                return self._coerce_ref(target, value["id"], nullable)
            attrs = {k: v for k, v in value.items()}
            found = [
                oid
                for oid, obj in objs.items()
                if all(_plain_eq(obj.get(k), v) for k, v in attrs.items())
            ]
            if not found:
                raise _FieldError(
                    f"Related object not found using the provided attributes: {attrs}"
                )
            if len(found) > 1:
                raise _FieldError(f"Multiple objects match the provided attributes: {attrs}")
            return {"id": found[0]}
        raise _FieldError(
            "Related objects must be referenced by numeric ID or by dictionary of attributes. "
            f"Received an unrecognized value: {value}"
        )

    def _coerce_tags(self, value):
        """NetBox's ``NestedTagSerializer(many=True)``: each tag by numeric id (int or digit string)
        or by a dictionary of attributes (``{"id": ..}``, ``{"name": ..}``, ``{"slug": ..}``)."""
        if not isinstance(value, list):
            raise _FieldError(f'Expected a list of items but got type "{_tname(value)}".')
        out = []
        for item in value:
            if item is None:
                raise _FieldError("This field may not be null.")
            ref = self._coerce_ref("extras.tags", item, nullable=False)
            if ref not in out:
                out.append(ref)
        return out

    def _coerce_m2m(self, endpoint, name, target, value):
        """A many-to-many field: a list of references stored as ``{"id": ..}``."""
        if not isinstance(value, list):
            raise _FieldError(f'Expected a list of items but got type "{_tname(value)}".')
        if (endpoint, name) in PK_M2M:
            refs = [self._coerce_pk(target, v) for v in value]
        elif (endpoint, name) in SLUG_M2M:
            refs = [self._coerce_slug(target, v) for v in value]
        else:
            refs = [self._coerce_ref(target, v, nullable=False) for v in value]
        out = []
        for ref in refs:
            if ref not in out:
                out.append(ref)
        return out

    def _coerce_pk(self, target, value):
        """DRF's ``PrimaryKeyRelatedField``: a primary key (int or digit string) only."""
        if value is None:
            raise _FieldError("This field may not be null.")
        if isinstance(value, bool):
            raise _FieldError("Incorrect type. Expected pk value, received bool.")
        pk = value
        if isinstance(value, str) and value.strip().isdigit():
            pk = int(value)
        elif isinstance(value, float) and value.is_integer():
            pk = int(value)
        if not isinstance(pk, int):
            raise _FieldError(f"Incorrect type. Expected pk value, received {_tname(value)}.")
        if pk not in self._objs.get(target, {}):
            raise _FieldError(f'Invalid pk "{value}" - object does not exist.')
        return {"id": pk}

    def _coerce_slug(self, target, value):
        """DRF's ``SlugRelatedField(slug_field="slug")``: an existing object's slug."""
        if value is None:
            raise _FieldError("This field may not be null.")
        if not isinstance(value, str):
            raise _FieldError("Invalid value.")
        found = [oid for oid, obj in self._objs.get(target, {}).items() if obj.get("slug") == value]
        if not found:
            raise _FieldError(f"Object with slug={value} does not exist.")
        return {"id": found[0]}

    @staticmethod
    def _coerce_choice(choices, value, *, nullable, blank):
        """NetBox's ``ChoiceField``: the value itself (``"true"``/``"false"``/digit strings are
        converted), never a dict or list; null only where the model field is nullable."""
        if value is None:
            if nullable:
                return None
            raise _FieldError("This field may not be null.")
        if value == "":
            if blank:
                return None
            raise _FieldError('"" is not a valid choice.')
        if isinstance(value, (dict, list)):
            raise _FieldError(
                'Value must be passed directly (e.g. "foo": 123); do not use a dictionary or list.'
            )
        if isinstance(value, str) and value not in choices:
            if value.lower() in ("true", "false"):
                value = value.lower() == "true"
            else:
                with contextlib.suppress(ValueError):
                    value = int(value)
        if isinstance(value, bool) or value not in choices:
            raise _FieldError(f"{value} is not a valid choice.")
        return {"value": value, "label": choices[value]}

    @staticmethod
    def _coerce_scalar(name, ftype, nullable, value):
        if value is None:
            if nullable or ftype in ("any", None):
                return None
            raise _FieldError("This field may not be null.")
        if ftype == "integer":
            if isinstance(value, bool):
                raise _FieldError("A valid integer is required.")
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise _FieldError("A valid integer is required.") from None
            if not number.is_integer():
                raise _FieldError("A valid integer is required.")
            return int(number)
        if ftype == "number":
            if isinstance(value, bool):
                raise _FieldError("A valid number is required.")
            try:
                return float(value)
            except (TypeError, ValueError):
                raise _FieldError("A valid number is required.") from None
        if ftype == "boolean":
            if isinstance(value, bool):
                return value
            if value in ("true", "True", "1", 1):
                return True
            if value in ("false", "False", "0", 0):
                return False
            raise _FieldError("Must be a valid boolean.")
        if ftype == "string":
            if isinstance(value, (dict, list)):
                raise _FieldError("Not a valid string.")
            return str(value)
        return copy_json(value)

    def _custom_fields_for(self, endpoint):
        otype = ENDPOINTS[endpoint]["object_type"]
        return {
            cf["name"]: cf
            for cf in self._objs["extras.custom-fields"].values()
            if otype in (cf.get("object_types") or ())
        }

    def _coerce_cf(self, endpoint, value):
        if not isinstance(value, dict):
            raise _FieldError(f'Expected a dictionary of items but got type "{_tname(value)}".')
        defined = self._custom_fields_for(endpoint)
        out = {}
        for name, item in value.items():
            cf = defined.get(name)
            if cf is None:
                raise _FieldError(f"Unknown field name '{name}' in custom field data.")
            ctype = (cf.get("type") or {}).get("value")
            if item is not None and item != "":
                if ctype == "boolean" and not isinstance(item, bool):
                    raise _FieldError(
                        f"Invalid value for custom field '{name}': Value must be true or false."
                    )
                if ctype == "integer" and (isinstance(item, bool) or not isinstance(item, int)):
                    raise _FieldError(
                        f"Invalid value for custom field '{name}': Value must be an integer."
                    )
                if ctype in ("text", "longtext", "url") and not isinstance(item, str):
                    raise _FieldError(
                        f"Invalid value for custom field '{name}': Value must be a string."
                    )
            out[name] = copy_json(item)
        return out

    def _fill_custom_fields(self, endpoint, obj, given):
        if "custom_fields" not in obj:
            return
        current = dict(obj.get("custom_fields") or {})
        for name, cf in self._custom_fields_for(endpoint).items():
            if name not in current:
                current[name] = copy_json(cf.get("default"))
        obj["custom_fields"] = current

    # -- model rules ---------------------------------------------------------------------------------
    def _finish(self, endpoint, obj, old):
        """Model-level validation and derived stored fields (display, family, ...)."""
        errors = {}
        hook = getattr(self, "_finish_" + endpoint.replace(".", "_").replace("-", "_"), None)
        if hook is not None:
            hook(obj, old, errors)
        if not errors:
            self._check_unique(endpoint, obj, errors)
        if errors:
            raise _Invalid(errors)
        obj["display"] = self._display(endpoint, obj)

    def _check_unique(self, endpoint, obj, errors):
        objs = self._objs[endpoint]
        if endpoint in _UNIQUE:
            verbose, names = _UNIQUE[endpoint]
            for name in names:
                value = obj.get(name)
                if value in (None, ""):
                    continue
                for other in objs.values():
                    if other["id"] != obj["id"] and other.get(name) == value:
                        errors[name] = [f"{verbose} with this {name} already exists."]
                        break
        for constraint, names, _ in _CONSTRAINTS.get(endpoint, ()):
            key = tuple(_key_part(obj.get(n)) for n in names)
            if any(k is None for k in key):
                continue
            # the first field is a reference: only objects sharing it can collide
            same = self._idx[endpoint].get(names[0], {}).get(key[0], ())
            for other in (objs[i] for i in same if i in objs):
                if (
                    other["id"] != obj["id"]
                    and tuple(_key_part(other.get(n)) for n in names) == key
                ):
                    errors["__all__"] = [f"Constraint \u201c{constraint}\u201d is violated."]
                    return

    def _display(self, endpoint, obj):
        name = obj.get("name")
        if endpoint == "dcim.racks":
            return f"{name} ({obj['facility_id']})" if obj.get("facility_id") else name
        if endpoint == "dcim.device-types":
            return obj.get("model")
        if endpoint == "ipam.ip-addresses":
            return obj.get("address")
        if endpoint == "ipam.prefixes":
            return obj.get("prefix")
        if endpoint == "dcim.mac-addresses":
            return obj.get("mac_address")
        if endpoint == "dcim.cables":
            return obj.get("label") or f"#{obj['id']}"
        if endpoint == "ipam.vlans":
            return f"{name} ({obj.get('vid')})"
        if endpoint == "ipam.services":
            proto = (obj.get("protocol") or {}).get("label", "")
            ports = ", ".join(str(p) for p in obj.get("ports") or ())
            return f"{name} ({proto}/{ports})"
        if endpoint == "extras.journal-entries":
            created = str(obj.get("created") or self._now())
            kind = (obj.get("kind") or {}).get("label", "")
            return f"{created[:10]} {created[11:16]} ({kind})"
        if endpoint == "extras.custom-fields":
            return obj.get("label") or name
        if endpoint == "dcim.devices" and not name:
            dtype = self._objs["dcim.device-types"].get(ref_id(obj.get("device_type"))) or {}
            return f"{dtype.get('model', 'Device')} ({obj['id']})"
        return name if name is not None else str(obj.get("display") or obj["id"])

    def _finish_dcim_devices(self, obj, old, errors):
        if old is None and obj.get("airflow") is None:
            dtype = self._objs["dcim.device-types"].get(ref_id(obj.get("device_type"))) or {}
            if dtype.get("airflow"):
                obj["airflow"] = copy_json(dtype["airflow"])
        name = obj.get("name")
        site, tenant = ref_id(obj.get("site")), ref_id(obj.get("tenant"))
        if name:
            devices = self._objs["dcim.devices"]
            same_site = self._idx["dcim.devices"].get("site", {}).get(site, ())
            for other in (devices[i] for i in same_site if i in devices):
                if other["id"] == obj["id"] or not other.get("name"):
                    continue
                if (
                    other["name"].lower() == name.lower()
                    and ref_id(other.get("site")) == site
                    and ref_id(other.get("tenant")) == tenant
                ):
                    constraint = (
                        "dcim_device_unique_name_site_tenant"
                        if tenant is not None
                        else "dcim_device_unique_name_site"
                    )
                    errors["__all__"] = [f"Constraint \u201c{constraint}\u201d is violated."]
                    return
        rack = self._objs["dcim.racks"].get(ref_id(obj.get("rack")))
        if rack is not None and ref_id(rack.get("site")) != site:
            site_obj = self._objs["dcim.sites"].get(site) or {}
            errors["rack"] = [
                f"Rack {rack.get('name')} does not belong to site {site_obj.get('name')}."
            ]
        if obj.get("position") is not None and rack is None:
            errors["position"] = ["Cannot select a rack position without assigning a rack."]
        if obj.get("position") is not None and not obj.get("face"):
            errors["face"] = ["Must specify rack face when defining rack position."]
        for field, family in (("primary_ip4", 4), ("primary_ip6", 6), ("oob_ip", None)):
            ip = self._objs["ipam.ip-addresses"].get(ref_id(obj.get(field)))
            if ip is None:
                continue
            if family is not None and self._family(ip["address"]) != family:
                errors[field] = [f"{ip['address']} is not an IPv{family} address."]
                continue
            iface = None
            if ip.get("assigned_object_type") == "dcim.interface":
                iface = self._objs["dcim.interfaces"].get(ip.get("assigned_object_id"))
            if iface is None or ref_id(iface.get("device")) != obj["id"]:
                label = "primary IP" if family else "OOB IP"
                errors[field] = [
                    (
                        f"The specified IP address ({ip['address']}) is not assigned to this device."
                        if family
                        else f"The specified {label} address ({ip['address']}) is not assigned to this device."
                    )
                ]

    def _finish_dcim_interfaces(self, obj, old, errors):
        mac = self._objs["dcim.mac-addresses"].get(ref_id(obj.get("primary_mac_address")))
        if mac is not None and (
            mac.get("assigned_object_type") != "dcim.interface"
            or mac.get("assigned_object_id") != obj["id"]
        ):
            errors["primary_mac_address"] = [
                f"The specified MAC address ({mac.get('mac_address')}) is not assigned to this interface."
            ]
        for field in ("lag", "parent", "bridge"):
            other = self._objs["dcim.interfaces"].get(ref_id(obj.get(field)))
            if other is None:
                continue
            if other["id"] == obj["id"]:
                errors[field] = ["An interface cannot be its own parent."]
            elif ref_id(other.get("device")) != ref_id(obj.get("device")):
                errors[field] = [
                    f"The selected {field} interface ({other.get('name')}) belongs to a different device."
                ]
            elif field == "lag" and (other.get("type") or {}).get("value") != "lag":
                errors[field] = [f"The selected LAG interface ({other.get('name')}) is not a LAG."]

    def _finish_ipam_ip_addresses(self, obj, old, errors):
        address = obj.get("address")
        try:
            iface = ipaddress.ip_interface(str(address))
            if "/" not in str(address):
                raise ValueError
        except ValueError:
            errors["address"] = ["Enter a valid IPv4 or IPv6 address with optional mask."]
            return
        obj["address"] = str(iface)
        obj["family"] = {"value": iface.version, "label": f"IPv{iface.version}"}
        self._check_assigned(obj, ("dcim.interface", "virtualization.vminterface"), errors)
        if errors:
            return
        vrf = ref_id(obj.get("vrf"))
        if vrf is None:
            same_host = (
                self._idx["ipam.ip-addresses"].get("host", {}).get((None, str(iface.ip)), ())
            )
            if any(i != obj["id"] for i in same_host):
                errors["address"] = [
                    f"Duplicate IP address found in global table: {obj['address']}"
                ]
                return
        if old is not None and old.get("assigned_object_id") != obj.get("assigned_object_id"):
            # NetBox 4 (IPAddress.clean): a primary/OOB address may move between the interfaces
            # of its device, never to another parent
            otype, parent = obj.get("assigned_object_type"), None
            if otype:
                owner = self._objs[OBJECT_TYPE_ENDPOINT[otype]].get(obj["assigned_object_id"], {})
                parent = (otype, ref_id(owner.get("device") or owner.get("virtual_machine")))
            for endpoint, child_type in _IP_PARENTS:
                for dev in self._objs[endpoint].values():
                    if parent == (child_type, dev["id"]):
                        continue
                    for field, what in (
                        ("primary_ip4", "primary"),
                        ("primary_ip6", "primary"),
                        ("oob_ip", "OOB"),
                    ):
                        if ref_id(dev.get(field)) == obj["id"]:
                            errors["assigned_object"] = [
                                f"Cannot reassign IP address while it is designated as the {what} "
                                "IP for the parent object"
                            ]
                            return

    def _check_assigned(self, obj, allowed, errors):
        otype, oid = obj.get("assigned_object_type"), obj.get("assigned_object_id")
        if otype in (None, "") and oid is None:
            obj["assigned_object_type"] = None
            obj["assigned_object"] = None
            return
        if otype not in allowed:
            errors["assigned_object_type"] = [f"Invalid assigned object type: {otype}"]
            return
        endpoint = OBJECT_TYPE_ENDPOINT[otype]
        if _as_int(oid) not in self._objs[endpoint]:
            errors["assigned_object_id"] = [_msg_not_found_id(oid)]
            return
        obj["assigned_object_id"] = _as_int(oid)
        obj["assigned_object"] = {"id": obj["assigned_object_id"]}

    def _finish_dcim_mac_addresses(self, obj, old, errors):
        text = str(obj.get("mac_address") or "").strip().replace("-", ":").upper()
        parts = text.split(":")
        if len(parts) != 6 or not all(
            len(p) == 2 and all(c in "0123456789ABCDEF" for c in p) for p in parts
        ):
            errors["mac_address"] = [f"Invalid MAC address format: {obj.get('mac_address')}"]
            return
        obj["mac_address"] = text
        self._check_assigned(obj, ("dcim.interface", "virtualization.vminterface"), errors)
        if errors or old is None or not old.get("assigned_object_type"):
            return
        # NetBox 4.2+ (MACAddress.clean): the primary MAC of an interface stays on it
        moved = (old.get("assigned_object_type"), old.get("assigned_object_id")) != (
            obj.get("assigned_object_type"),
            obj.get("assigned_object_id"),
        )
        owner = self._objs[OBJECT_TYPE_ENDPOINT[old["assigned_object_type"]]].get(
            old.get("assigned_object_id")
        )
        if moved and owner and ref_id(owner.get("primary_mac_address")) == obj["id"]:
            verb = "reassign" if obj.get("assigned_object_type") else "unassign"
            errors["__all__"] = [
                f"Cannot {verb} MAC Address while it is designated as the primary MAC for an "
                "object"
            ]

    def _finish_ipam_prefixes(self, obj, old, errors):
        try:
            obj["prefix"] = self._normalize_prefix(str(obj.get("prefix")))
        except ValueError:
            errors["prefix"] = ["Enter a valid IPv4 or IPv6 prefix and mask in CIDR notation."]
            return
        version = ipaddress.ip_network(obj["prefix"]).version
        obj["family"] = {"value": version, "label": f"IPv{version}"}
        self._set_scope(obj, errors)

    def _finish_ipam_vlan_groups(self, obj, old, errors):
        self._set_scope(obj, errors)
        total = 0
        for vid_range in obj.get("vid_ranges") or ():
            # NetBox's IntegerRangeSerializer, then VLANGroup.clean()
            if not isinstance(vid_range, (list, tuple)) or len(vid_range) != 2:
                errors["vid_ranges"] = ["Ranges must be specified in the form (lower, upper)."]
                return
            lower, upper = vid_range
            if type(lower) is not int or type(upper) is not int:  # noqa: E721 - bool is no int
                errors["vid_ranges"] = ["Range boundaries must be defined as integers."]
                return
            if lower < 1:
                errors["vid_ranges"] = [
                    f"Starting VLAN ID in range ({lower}) cannot be less than 1"
                ]
                return
            if upper > 4094:
                errors["vid_ranges"] = [f"Ending VLAN ID in range ({upper}) cannot exceed 4094"]
                return
            if lower > upper:
                errors["vid_ranges"] = [
                    "Ending VLAN ID in range must be greater than or equal to the starting VLAN "
                    f"ID ({lower}-{upper})"
                ]
                return
            total += upper - lower + 1
        obj["vid_ranges"] = [list(r) for r in obj.get("vid_ranges") or ()]
        obj["total_vlan_ids"] = total

    def _set_scope(self, obj, errors):
        stype, sid = obj.get("scope_type"), obj.get("scope_id")
        if not stype or sid is None:
            obj["scope_type"] = stype or None
            obj["scope"] = None
            return
        endpoint = OBJECT_TYPE_ENDPOINT.get(stype)
        if endpoint is None or _as_int(sid) not in self._objs[endpoint]:
            errors["scope"] = [f"Related object not found using the provided numeric ID: {sid}"]
            return
        obj["scope_id"] = _as_int(sid)
        obj["scope"] = {"id": obj["scope_id"]}

    def _finish_ipam_services(self, obj, old, errors):
        otype, oid = obj.get("parent_object_type"), obj.get("parent_object_id")
        endpoint = OBJECT_TYPE_ENDPOINT.get(otype)
        if endpoint is None or _as_int(oid) not in self._objs[endpoint]:
            errors["parent_object_id"] = [_msg_not_found_id(oid)]
            return
        obj["parent_object_id"] = _as_int(oid)
        obj["parent"] = {"id": obj["parent_object_id"]}

    def _finish_extras_journal_entries(self, obj, old, errors):
        otype, oid = obj.get("assigned_object_type"), obj.get("assigned_object_id")
        endpoint = OBJECT_TYPE_ENDPOINT.get(otype)
        if endpoint is None:
            errors["assigned_object_type"] = [f"Invalid object type: {otype}"]
            return
        if _as_int(oid) not in self._objs[endpoint]:
            errors["assigned_object_id"] = [_msg_not_found_id(oid)]
            return
        obj["assigned_object_id"] = _as_int(oid)
        obj["assigned_object"] = {"id": obj["assigned_object_id"]}
        if old is None:
            obj["created_by"] = 1
            if obj.get("kind") is None:
                obj["kind"] = {"value": "info", "label": "Info"}

    def _finish_dcim_cables(self, obj, old, errors):
        for end in ("a_terminations", "b_terminations"):
            terms = obj.get(end) or []
            if not isinstance(terms, list):
                errors[end] = ["Expected a list of items."]
                continue
            clean = []
            for term in terms:
                otype = term.get("object_type") if isinstance(term, dict) else None
                oid = _as_int(term.get("object_id")) if isinstance(term, dict) else None
                endpoint = OBJECT_TYPE_ENDPOINT.get(otype)
                if endpoint is None or oid not in self._objs[endpoint]:
                    errors[end] = [f"Invalid termination: {term}"]
                    break
                cable = self._cable_of(oid, otype)
                if cable is not None and cable[0] != obj["id"]:
                    target = self._objs[endpoint][oid]
                    errors[end] = [
                        f"Duplicate termination found for {otype}:{oid}: cable {cable[0]}"
                    ]
                    errors[end] = [
                        f"{target.get('name')} already has a cable attached (#{cable[0]})"
                    ]
                    break
                clean.append({"object_type": otype, "object_id": oid, "object": {"id": oid}})
            obj[end] = clean
        if (
            not errors
            and old is None
            and (not obj.get("a_terminations") or not obj.get("b_terminations"))
        ):
            missing = "a_terminations" if not obj.get("a_terminations") else "b_terminations"
            errors[missing] = ["Must define A and B terminations when creating a new cable."]

    def _finish_extras_custom_fields(self, obj, old, errors):
        ctype = (obj.get("type") or {}).get("value") or "text"
        obj["data_type"] = {
            "text": "string",
            "longtext": "string",
            "url": "string",
            "integer": "integer",
            "decimal": "number",
            "boolean": "boolean",
            "date": "string",
            "datetime": "string",
            "json": "object",
            "select": "string",
            "multiselect": "array",
            "object": "object",
            "multiobject": "array",
        }.get(ctype, "string")

    # -- side effects --------------------------------------------------------------------------------
    def _after_write(self, endpoint, obj, before):
        if endpoint == "ipam.prefixes":
            self._refresh_prefixes()

    def _after_create(self, endpoint, obj, user, request_id):
        if endpoint != "dcim.devices":
            return
        dtype = ref_id(obj.get("device_type"))
        templates = self._idx["dcim.interface-templates"].get("device_type", {}).get(dtype, set())
        for tid in sorted(templates, key=self._ranking("dcim.interface-templates").__getitem__):
            tpl = self._objs["dcim.interface-templates"][tid]
            data = {
                "device": obj["id"],
                "name": tpl.get("name"),
                "label": tpl.get("label") or "",
                "type": (tpl.get("type") or {}).get("value"),
                "enabled": tpl.get("enabled", True),
                "mgmt_only": tpl.get("mgmt_only", False),
                "description": tpl.get("description") or "",
            }
            for field in ("poe_mode", "poe_type", "rf_role"):
                if tpl.get(field):
                    data[field] = tpl[field].get("value")
            self._create_one("dcim.interfaces", data, user, request_id)

    # -- delete --------------------------------------------------------------------------------------
    def _referrers(self, endpoint, obj):
        """(source endpoint, field, source ids) of every reference to ``obj``."""
        model_type = ENDPOINTS[endpoint]["object_type"]
        found = []
        for src_ep, fields in self._idx.items():
            for field, index in fields.items():
                spec = ENDPOINTS[src_ep]["fields"].get(field)
                if (src_ep, field) in GENERIC_REFS or field == "terminations":
                    ids = index.get((model_type, obj["id"]))
                elif spec is not None and spec[1] == endpoint:
                    ids = index.get(obj["id"])
                else:
                    ids = None
                if ids:
                    found.append((src_ep, field, set(ids)))
        return found

    def _delete_one(self, endpoint, obj, user, request_id, seen):
        key = (endpoint, obj["id"])
        if key in seen or obj["id"] not in self._objs[endpoint]:
            return
        seen.add(key)
        referrers = self._referrers(endpoint, obj)
        blocking = [
            (src_ep, field, ids)
            for src_ep, field, ids in referrers
            if (src_ep, field) not in _CASCADE
            and (src_ep, field) not in _SOFT
            and field not in ("tags", "terminations")
            and (ENDPOINTS[src_ep]["fields"].get(field) or ("",))[0] != "fkm"  # m2m: removed
            and not _derived(src_ep, field)
            and src_ep not in ("core.object-changes", "extras.config-contexts")
        ]
        if blocking:
            names = []
            for src_ep, _, ids in blocking:
                for oid in sorted(ids)[:5]:
                    names.append(str(self._objs[src_ep][oid].get("display") or oid))
            count = sum(len(ids) for _, _, ids in blocking)
            raise StoreError(
                409,
                {
                    "detail": f"Unable to delete object. {count} dependent objects were found: "
                    + ", ".join(names)
                },
            )
        for src_ep, field, ids in referrers:
            for oid in sorted(ids):
                other = self._objs[src_ep].get(oid)
                if other is None:
                    continue
                if (src_ep, field) in _CASCADE:
                    self._delete_one(src_ep, other, user, request_id, seen)
                elif field == "terminations":
                    self._drop_termination(other, ENDPOINTS[endpoint]["object_type"], obj["id"])
                elif src_ep != "core.object-changes":
                    # an object being deleted in this cascade is not "updated" (Django's collector);
                    # a derived reference (``primary_ip``, ``cable``) is no field NetBox saves
                    log = (src_ep, oid) not in seen and not _derived(src_ep, field)
                    self._clear_ref(
                        src_ep, other, field, obj["id"], user=user, request_id=request_id, log=log
                    )
        current = self._objs[endpoint].get(obj["id"])
        if current is None:
            return
        self._drop(endpoint, current)
        self._after_write(endpoint, current, current)
        self._log(endpoint, "delete", current, None, user, request_id)

    def _drop_termination(self, cable, object_type, object_id):
        """A cable end's object is deleted: NetBox (3.3+, still 4.6) deletes its CableTermination
        only (GenericRelation cascade) and keeps the Cable, with the other end's terminations.
        The Cable itself is not saved (no change record, ``last_updated`` and ETag unchanged);
        NetBox's change record of the CableTermination has no endpoint in this store."""
        new = copy_json(cable)
        for end in ("a_terminations", "b_terminations"):
            new[end] = [
                term
                for term in new.get(end) or ()
                if (term.get("object_type"), term.get("object_id")) != (object_type, object_id)
            ]
        self._put("dcim.cables", new, cable)

    def _clear_ref(self, endpoint, obj, field, target_id, *, user, request_id, log=True):
        new = copy_json(obj)
        value = new.get(field)
        if isinstance(value, list):
            new[field] = [v for v in value if ref_id(v) != target_id]
        else:
            new[field] = None
        self._put(endpoint, new, obj)
        if log and endpoint not in ("extras.config-contexts",):
            self._log(endpoint, "update", obj, new, user, request_id)

    # -- change log ----------------------------------------------------------------------------------
    def _serialize(self, endpoint, obj):
        """NetBox's ``serialize_object`` form for pre/postchange data: references as ids, choices as
        values, tags as names, decimals as strings."""
        if obj is None:
            return None
        meta = ENDPOINTS[endpoint]
        out = {}
        keep = set(meta["writable"]) | {
            k for k in obj if k.endswith("_count") and k not in ("device_count",)
        }
        for name in keep:
            if name not in obj or name in ("id",):
                continue
            spec = meta["fields"].get(name)
            value = obj.get(name)
            if name == "tags" and (endpoint, name) not in SLUG_M2M:  # TaggableManager
                out[name] = sorted(
                    str((self._objs["extras.tags"].get(ref_id(t)) or {}).get("name", ref_id(t)))
                    for t in value or ()
                )
            elif name.endswith("_count") and (endpoint, name) in COUNTS:
                out[name] = self._count(endpoint, name, obj["id"])
            elif spec is not None and spec[0] == "fkm":
                out[name] = [ref_id(v) for v in value or ()]
            elif spec is not None and spec[0] == "fk":
                out[name] = ref_id(value)
            elif spec is not None and spec[0] == "choice":
                out[name] = (
                    value["value"] if isinstance(value, dict) else ("" if value is None else value)
                )
            elif isinstance(value, float):
                out[name] = f"{value:.1f}" if value.is_integer() else str(value)
            else:
                out[name] = copy_json(value)
        return out

    def _log(self, endpoint, action, before, after, user, request_id):  # noqa: PLR0917
        """Record an ObjectChange like NetBox 4.6's ``handle_changed_object``: an update whose
        serialized data is the same before and after (a PATCH that changes nothing, a bulk item
        sent as it is) records none (``CHANGELOG_SKIP_EMPTY_CHANGES``, default on: only when
        ``has_changes``), although the object was saved (``last_updated`` and ETag move on)."""
        if endpoint == "core.object-changes":
            return
        prechange = self._serialize(endpoint, before)
        postchange = self._serialize(endpoint, after)
        if action == "update" and prechange == postchange:
            return
        obj = after if after is not None else before
        otype = ENDPOINTS[endpoint]["object_type"]
        oid = self._next_id["core.object-changes"]
        self._next_id["core.object-changes"] = oid + 1
        app, model = otype.split(".", 1)
        verbose = _VERBOSE.get(otype, model)
        repr_ = str(obj.get("display") or obj.get("name") or obj["id"])
        change = {
            "id": oid,
            "url": f"{self._stored_base}/api/core/object-changes/{oid}/",
            "display_url": f"{self._stored_base}/core/changelog/{oid}/",
            "display": f"{_APP_LABEL.get(app, app)} | {verbose} {repr_} "
            f"{_ACTION_LABEL[action].lower()} by {user}",
            "time": self._now(),
            "user": dict(
                _ADMIN, display=user, username=user, url=f"{self._stored_base}/api/users/users/1/"
            ),
            "user_name": user,
            "request_id": request_id,
            "action": {"value": action, "label": _ACTION_LABEL[action]},
            "changed_object_type": otype,
            "changed_object_id": obj["id"],
            "changed_object": {"id": obj["id"]},
            "object_repr": repr_,
            "message": "",
            "prechange_data": prechange,
            "postchange_data": postchange,
        }
        self._put("core.object-changes", change)


class _FieldError(Exception):
    def __init__(self, *messages):
        super().__init__(messages[0])
        self.messages = list(messages)


_VERBOSE = {
    "dcim.device": "device",
    "dcim.interface": "interface",
    "dcim.devicetype": "device type",
    "dcim.devicerole": "device role",
    "dcim.macaddress": "MAC address",
    "dcim.inventoryitem": "inventory item",
    "dcim.interfacetemplate": "interface template",
    "ipam.ipaddress": "IP address",
    "ipam.vlangroup": "VLAN group",
    "ipam.vlan": "VLAN",
    "ipam.vrf": "VRF",
    "extras.journalentry": "journal entry",
    "extras.configcontext": "config context",
    "extras.customfield": "custom field",
    "virtualization.virtualmachine": "virtual machine",
    "virtualization.vminterface": "interface",
}


def _derived(endpoint, field):
    """Whether a reference field is computed for the representation (read-only: ``primary_ip``,
    an interface's ``cable`` or ``mac_addresses``), never a model field of its own."""
    spec = ENDPOINTS[endpoint]["fields"].get(field)
    return spec is not None and spec[0] in ("fk", "fkm") and bool(spec[4])


def _tname(value):
    return {dict: "dict", list: "list", str: "str", int: "int", float: "float", bool: "bool"}.get(
        type(value), type(value).__name__
    )


def _as_int(value):
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _plain_eq(stored, wanted):
    if isinstance(stored, dict):
        if "value" in stored and "label" in stored:
            stored = stored["value"]
        elif "id" in stored:
            stored = stored["id"]
    return stored == wanted


def _key_part(value):
    if isinstance(value, dict):
        return value.get("id", value.get("value"))
    if isinstance(value, str):
        return value
    return value
