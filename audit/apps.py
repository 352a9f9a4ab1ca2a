from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit log"

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import m2m_changed, post_save

        from . import staff, staff_login  # noqa: F401  (staff_login connects the sign-in audit receivers)

        User = get_user_model()
        post_save.connect(staff.on_user_saved, sender=User, dispatch_uid="audit.user_saved")
        m2m_changed.connect(staff.on_groups_changed, sender=User.groups.through, dispatch_uid="audit.user_groups")
        user_logged_in.connect(staff.on_logged_in, dispatch_uid="audit.staff_login")
