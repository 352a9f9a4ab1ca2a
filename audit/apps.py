from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit log"

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import m2m_changed, post_save, pre_save

        from . import staff, staff_login  # noqa: F401  (staff_login connects the sign-in audit receivers)

        User = get_user_model()
        pre_save.connect(staff.on_user_saving, sender=User, dispatch_uid="audit.user_saving")
        post_save.connect(staff.on_user_saved, sender=User, dispatch_uid="audit.user_saved")
        m2m_changed.connect(staff.on_access_changed, sender=User.groups.through, dispatch_uid="audit.user_groups")
        m2m_changed.connect(
            staff.on_access_changed, sender=User.user_permissions.through, dispatch_uid="audit.user_permissions"
        )
        user_logged_in.connect(staff.on_logged_in, dispatch_uid="audit.staff_login")
