from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('members', '0013_institution_version'),
    ]

    operations = [
        migrations.AddField(
            model_name='notification',
            name='written',
            field=models.BooleanField(default=True, verbose_name='written'),
        ),
    ]
